import { writeSync } from 'node:fs';

/** Bytes gathered before a write: a block of ~9 access lines. */
const BLOCK_BYTES = 4096;
/**
 * The buffer. A line is taken in only when its worst case (3 bytes per UTF-16 unit) still fits:
 * one of more than ~21,800 units is written on its own, after what was gathered.
 */
const BUFFER_BYTES = 64 * 1024;

/** fs.writeSync's shape: `length` bytes from `offset` on; how many were written. */
export type WriteBytes = (fd: number, bytes: Buffer, offset: number, length: number) => number;

/**
 * Log lines for a regular file, written synchronously in blocks of at least 4 KiB (see
 * stdoutDestination). Each line is encoded once, straight into one reused buffer.
 *
 * It stands in for pino.destination's block mode (sonic-boom), which keeps the block as a
 * string: every line measured the block so far (a flatten and a UTF-8 count of up to 4 KiB), and
 * every block was encoded twice (the write, then a Buffer to slice what was written): 1.3–2.5 %
 * of the relay's main-thread instructions at 10 connections (`npm run bench:instructions`).
 *
 * A block the file refuses (a full disk) stays for the next try; `write` throws only for a line
 * it could not keep (the buffer full of blocks the file refused), so a caller's "line not
 * written" is true, and the buffer never grows. A line too long for the buffer that the file
 * takes only in part is left torn: on a full disk, the one case where a line can be.
 */
export class BlockFileWriter {
  readonly #fd: number;
  readonly #write: WriteBytes;
  readonly #buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  #length = 0;
  readonly #timer: ReturnType<typeof setInterval>;
  /** After end() (process exit): no timer left, so every line is written at once. */
  #ended = false;

  constructor(fd: number, flushEveryMs: number, write: WriteBytes = writeSync) {
    this.#fd = fd;
    this.#write = write;
    this.#timer = setInterval(() => this.#flushQuietly(), flushEveryMs);
    this.#timer.unref();
  }

  /** pino's DestinationStream: one serialised line, newline included. */
  write(line: string): boolean {
    if (this.#length + line.length * 3 > BUFFER_BYTES) {
      this.flushSync();
      if (line.length * 3 > BUFFER_BYTES) {
        this.#writeAll(Buffer.from(line, 'utf8'));
        return true;
      }
    }
    this.#length += this.#buffer.write(line, this.#length, 'utf8');
    // The line is kept: if the file refuses the block now, it is written with a later one.
    if (this.#length >= BLOCK_BYTES || this.#ended) this.#flushQuietly();
    return true;
  }

  /** Everything gathered, to the file now. */
  flushSync(): void {
    if (this.#length === 0) return;
    let written = 0;
    try {
      while (written < this.#length) {
        written += this.#write(this.#fd, this.#buffer, written, this.#length - written);
      }
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

  /** No more timer; what is gathered is written, and every later line at once. */
  end(): void {
    clearInterval(this.#timer);
    this.#ended = true;
    this.#flushQuietly();
  }

  #writeAll(bytes: Buffer): void {
    let written = 0;
    while (written < bytes.length) {
      written += this.#write(this.#fd, bytes, written, bytes.length - written);
    }
  }

  /** A failure here has no caller to tell: the gathered lines wait for the next try. */
  #flushQuietly(): void {
    try {
      this.flushSync();
    } catch {
      // Kept for the next write, which throws to its caller once nothing more fits.
    }
  }
}
