import { writeSync } from 'node:fs';

/** Bytes gathered before a write: a block of ~9 access lines. */
const BLOCK_BYTES = 4096;
/** The buffer: a block and a line of up to 60 KiB never need two writes. */
const BUFFER_BYTES = 64 * 1024;

/**
 * Log lines for a regular file, written synchronously in blocks of at least 4 KiB (see
 * stdoutDestination). Each line is encoded once, straight into one reused buffer.
 *
 * It stands in for pino.destination's block mode (sonic-boom), which keeps the block as a
 * string: every line measured the block so far (a flatten and a UTF-8 count of up to 4 KiB), and
 * every block was encoded twice (the write, then a Buffer to slice what was written): 2.5 % of
 * the relay's main-thread instructions at 10 connections (`npm run bench:instructions`).
 *
 * A write that fails (a full disk) throws, as sonic-boom's does; what was gathered stays for the
 * next try, and a line that no longer fits is refused (it throws) rather than grow the buffer.
 */
export class BlockFileWriter {
  readonly #fd: number;
  readonly #buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  #length = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(fd: number, flushEveryMs: number) {
    this.#fd = fd;
    this.#timer = setInterval(() => this.#flushQuietly(), flushEveryMs);
    this.#timer.unref();
  }

  /** pino's DestinationStream: one serialised line, newline included. */
  write(line: string): boolean {
    // Most lines are ASCII; a line's UTF-8 is at most three bytes per UTF-16 unit.
    if (this.#length + line.length * 3 > BUFFER_BYTES) {
      this.flushSync();
      if (line.length * 3 > BUFFER_BYTES) {
        this.#writeAll(Buffer.from(line, 'utf8'));
        return true;
      }
    }
    this.#length += this.#buffer.write(line, this.#length, 'utf8');
    if (this.#length >= BLOCK_BYTES) this.flushSync();
    return true;
  }

  /** Everything gathered, to the file now. */
  flushSync(): void {
    if (this.#length === 0) return;
    const block = this.#buffer.subarray(0, this.#length);
    let written = 0;
    try {
      while (written < block.length) written += writeSync(this.#fd, block, written);
    } finally {
      // What was written goes; a failed write keeps the rest for the next try.
      if (written > 0) {
        this.#buffer.copy(this.#buffer, 0, written, this.#length);
        this.#length -= written;
      }
    }
  }

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    try {
      this.flushSync();
    } catch (err) {
      cb?.(err as Error);
      return;
    }
    cb?.();
  }

  /** No more timer; what is gathered is written. */
  end(): void {
    clearInterval(this.#timer);
    this.#flushQuietly();
  }

  #writeAll(bytes: Buffer): void {
    let written = 0;
    while (written < bytes.length) written += writeSync(this.#fd, bytes, written);
  }

  /** From a timer or at exit: a failure there has no caller to tell, the next write will. */
  #flushQuietly(): void {
    try {
      this.flushSync();
    } catch {
      // Kept for the next write, which throws to its caller.
    }
  }
}
