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
  #closed = false;

  constructor() {
    const pipe = new TransformStream<Uint8Array, Uint8Array>(
      undefined,
      { highWaterMark: 64 },
      { highWaterMark: 64 },
    );
    this.readable = pipe.readable;
    this.#writer = pipe.writable.getWriter();
    // A cancelled body (client hung up) rejects pending and later writes; nobody awaits `closed`.
    this.#writer.closed.catch(() => {});
  }

  async write(text: string): Promise<void> {
    if (this.#closed) throw new ClientGone();
    try {
      await this.#writer.write(encoder.encode(text));
    } catch {
      this.#closed = true;
      throw new ClientGone();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close().catch(() => {});
  }
}
