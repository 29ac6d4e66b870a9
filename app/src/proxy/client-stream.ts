const encoder = new TextEncoder();

export class ClientGone extends Error {
  constructor() {
    super('client went away');
    this.name = 'ClientGone';
  }
}

/** Events queued for the client before a write waits for it to take some. */
const QUEUED_EVENTS = 64;

/**
 * The body of an SSE response, written to as events arrive. Writes wait for the client to
 * take the bytes (backpressure), so a slow reader cannot make the relay buffer a whole answer.
 * Events go straight into the response's ReadableStream: a TransformStream and its writer in
 * front of it cost a stream of 20 chunks ~5 % of its CPU, for the same backpressure.
 */
export class ClientStream {
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #stallMs: number;
  #closed = false;
  /** Writes waiting for room: told when the client takes bytes (true) or goes (false). */
  readonly #waiters = new Set<(room: boolean) => void>();

  readonly #hangUp: (() => void) | undefined;

  /**
   * @param stallMs a client that takes no bytes for this long is treated as gone: otherwise a
   * reader that never reads would hold the request, its upstream and its quota hold forever.
   * @param hangUp closes the client's connection (see `connectionCloser`); without one (no
   * socket, as under `app.request()`), the body ends in an error instead.
   */
  constructor(stallMs = 120_000, hangUp?: () => void) {
    this.#stallMs = stallMs;
    this.#hangUp = hangUp;
    // A client that stops reading pins at most QUEUED_EVENTS events, however fast the upstream.
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        // Called whenever the queue has room again, i.e. the client took bytes.
        pull: () => this.#wake(true),
        // The client hung up: pending and later writes report it.
        cancel: () => {
          this.#closed = true;
          this.#wake(false);
        },
      },
      { highWaterMark: QUEUED_EVENTS },
    );
  }

  #wake(room: boolean): void {
    for (const waiter of this.#waiters) waiter(room);
    this.#waiters.clear();
  }

  async write(text: string): Promise<void> {
    if (this.#closed) throw new ClientGone();
    this.#controller.enqueue(encoder.encode(text));
    // Room left in the queue: nothing to wait for, so no stall timer (one per chunk added up).
    if ((this.#controller.desiredSize ?? 0) > 0) return;
    let timer: NodeJS.Timeout | undefined;
    const room = await new Promise<boolean>((resolve) => {
      this.#waiters.add(resolve);
      timer = setTimeout(() => {
        this.#waiters.delete(resolve);
        resolve(false);
      }, this.#stallMs);
    });
    clearTimeout(timer);
    if (!room || this.#closed) {
      this.#gone();
      throw new ClientGone();
    }
  }

  /**
   * Gives up on a stalled client. Its connection is closed outright: the Node adapter then
   * cancels this body like any hang-up. Erroring the body instead would make the adapter print
   * the error's stack to stderr for what is the client's doing, not a fault of the relay.
   */
  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Other writes waiting for room (a heartbeat beside content) hear it now, not at their timers.
    this.#wake(false);
    if (this.#hangUp) return this.#hangUp();
    try {
      this.#controller.error(new ClientGone());
    } catch {
      // Already cancelled by the client.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake(false);
    try {
      this.#controller.close();
    } catch {
      // Already cancelled by the client.
    }
  }
}

/**
 * Closes the connection a request came on, when it came through @hono/node-server (whose
 * `env.outgoing` is the Node response; destroying it destroys the socket).
 */
export function connectionCloser(env: unknown): (() => void) | undefined {
  const outgoing = (env as { outgoing?: { destroy?: unknown } } | undefined)?.outgoing;
  const destroy = outgoing?.destroy;
  return typeof destroy === 'function' ? () => void destroy.call(outgoing) : undefined;
}

/**
 * Holds the client connection's writes until the promise callbacks queued now have run, as Node
 * holds a response's body writes: the adapter writes the response head by itself (a write, and
 * a wake-up of the client, of its own, the dearest one a stream had) and the first frames in a
 * callback after it; held, they leave in one write. Nothing when the request came without a
 * socket (`app.request()`), or when the writes are held already.
 */
export function holdWritesForATurn(env: unknown): void {
  const outgoing = (env as { outgoing?: { socket?: unknown } } | undefined)?.outgoing;
  const socket = outgoing?.socket as
    { cork?: unknown; uncork?: unknown; writableCorked?: number } | null | undefined;
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
  if (socket.writableCorked) return;
  socket.cork();
  process.nextTick(() => (socket.uncork as () => void).call(socket));
}
