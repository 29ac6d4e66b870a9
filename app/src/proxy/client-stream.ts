const encoder = new TextEncoder();

export class ClientGone extends Error {
  constructor() {
    super('client went away');
    this.name = 'ClientGone';
  }
}

/** Where a stream's events go: the client's connection, with backpressure. */
export interface ClientSink {
  /** Resolves once the client can take more; rejects with ClientGone when it never will. */
  write(text: string): Promise<void>;
  close(): void;
}

/**
 * A sink whose writes wait for the client to take bytes (backpressure), so a slow reader
 * cannot make the relay buffer a whole answer. A client that takes nothing for `stallMs` counts
 * as gone: otherwise a reader that never reads would hold the request, its upstream and its
 * quota hold forever. Subclasses say where the bytes go.
 */
export abstract class BackpressuredSink implements ClientSink {
  readonly #stallMs: number;
  #closed = false;
  /** Writes waiting for room: told when the client takes bytes (true) or goes (false). */
  readonly #waiters = new Set<(room: boolean) => void>();

  constructor(stallMs: number) {
    this.#stallMs = stallMs;
  }

  /** Hands the bytes on; false when the client must take some before the next write. */
  protected abstract put(text: string): boolean;
  /** Cuts off a client that stalled. */
  protected abstract hangUp(): void;
  /** Ends the body normally. */
  protected abstract end(): void;

  async write(text: string): Promise<void> {
    if (this.#closed) throw new ClientGone();
    // Room left: nothing to wait for, so no stall timer (one per chunk added up).
    if (this.put(text)) return;
    if (!(await this.#room()) || this.#closed) {
      if (this.#shut()) this.hangUp();
      throw new ClientGone();
    }
  }

  close(): void {
    if (this.#shut()) this.end();
  }

  /** The client took bytes: waiting writes go on. */
  protected roomAgain(): void {
    this.#wake(true);
  }

  /** The client hung up: waiting and later writes report it. */
  protected gone(): void {
    this.#shut();
  }

  /** True for the call that closed it. Every waiting write hears it at once, not at its timer. */
  #shut(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#wake(false);
    return true;
  }

  #wake(room: boolean): void {
    for (const waiter of this.#waiters) waiter(room);
    this.#waiters.clear();
  }

  async #room(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const room = await new Promise<boolean>((resolve) => {
      this.#waiters.add(resolve);
      timer = setTimeout(() => {
        this.#waiters.delete(resolve);
        resolve(false);
      }, this.#stallMs);
    });
    clearTimeout(timer);
    return room;
  }
}

/** Events queued for the client before a write waits for it to take some. */
const QUEUED_EVENTS = 64;

/**
 * The body of an SSE response as a Web ReadableStream, for a request that came without a Node
 * socket (`app.request()`); through a socket, NodeClientStream writes to the connection itself.
 */
export class ClientStream extends BackpressuredSink {
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;

  /** @param stallMs see BackpressuredSink (server.clientStallMs) */
  constructor(stallMs: number) {
    super(stallMs);
    // A client that stops reading pins at most QUEUED_EVENTS events, however fast the upstream.
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        // Called whenever the queue has room again, i.e. the client took bytes.
        pull: () => this.roomAgain(),
        cancel: () => this.gone(),
      },
      { highWaterMark: QUEUED_EVENTS },
    );
  }

  protected put(text: string): boolean {
    this.#controller.enqueue(encoder.encode(text));
    return (this.#controller.desiredSize ?? 0) > 0;
  }

  protected hangUp(): void {
    try {
      this.#controller.error(new ClientGone());
    } catch {
      // Already cancelled by the client.
    }
  }

  protected end(): void {
    try {
      this.#controller.close();
    } catch {
      // Already cancelled by the client.
    }
  }
}
