const encoder = new TextEncoder();

export class ClientGone extends Error {
  constructor() {
    super('client went away');
    this.name = 'ClientGone';
  }
}

/**
 * The body of an SSE response, written to as events arrive. Writes wait for the client to
 * take the bytes (backpressure), so a slow reader cannot make the relay buffer a whole answer.
 */
export class ClientStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stallMs: number;
  #closed = false;

  /**
   * @param stallMs a client that takes no bytes for this long is treated as gone: otherwise a
   * reader that never reads would hold the request, its upstream and its quota hold forever.
   */
  constructor(stallMs = 120_000) {
    // 64 events queue for the client; the writable side holds one more. Writes only wait (and
    // arm the stall timer) once those are taken, so a client that stops reading pins at most
    // ~65 events, however fast the upstream is.
    const pipe = new TransformStream<Uint8Array, Uint8Array>(
      undefined,
      { highWaterMark: 1 },
      { highWaterMark: 64 },
    );
    this.readable = pipe.readable;
    this.#writer = pipe.writable.getWriter();
    this.#stallMs = stallMs;
    // A cancelled body (client hung up) rejects pending and later writes; nobody awaits `closed`.
    this.#writer.closed.catch(() => {});
  }

  async write(text: string): Promise<void> {
    if (this.#closed) throw new ClientGone();
    const bytes = encoder.encode(text);
    if ((this.#writer.desiredSize ?? 0) > 0) {
      // Room in the pipe: nothing to wait for, so no stall timer (one per chunk added up).
      // A failure here means the client went away; the next write reports it.
      this.#writer.write(bytes).catch(() => this.#gone());
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#writer.write(bytes),
        new Promise(
          (_, reject) => (timer = setTimeout(() => reject(new ClientGone()), this.#stallMs)),
        ),
      ]);
    } catch {
      this.#gone();
      throw new ClientGone();
    } finally {
      clearTimeout(timer);
    }
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.abort(new ClientGone()).catch(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close().catch(() => {});
  }
}
