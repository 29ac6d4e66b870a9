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
 * Writes waiting for the client to take bytes: told when it does (true) or goes (false). A
 * client that takes nothing for `stallMs` counts as gone: otherwise a reader that never reads
 * would hold the request, its upstream and its quota hold forever.
 */
export class RoomWait {
  readonly #stallMs: number;
  readonly #waiters = new Set<(room: boolean) => void>();

  constructor(stallMs: number) {
    this.#stallMs = stallMs;
  }

  /** True once there is room, false when the client went or stalled. */
  async wait(): Promise<boolean> {
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

  /** Every write waiting (a heartbeat beside content) hears it at once, not at its timer. */
  wake(room: boolean): void {
    for (const waiter of this.#waiters) waiter(room);
    this.#waiters.clear();
  }
}

/** Events queued for the client before a write waits for it to take some. */
const QUEUED_EVENTS = 64;

/**
 * The body of an SSE response as a Web ReadableStream, for a request that came without a Node
 * socket (`app.request()`); through a socket, NodeClientStream writes to the connection itself.
 * Writes wait for the client to take the bytes (backpressure), so a slow reader cannot make the
 * relay buffer a whole answer.
 */
export class ClientStream implements ClientSink {
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #room: RoomWait;
  #closed = false;

  /** @param stallMs see RoomWait */
  constructor(stallMs = 120_000) {
    this.#room = new RoomWait(stallMs);
    // A client that stops reading pins at most QUEUED_EVENTS events, however fast the upstream.
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        // Called whenever the queue has room again, i.e. the client took bytes.
        pull: () => this.#room.wake(true),
        // The client hung up: pending and later writes report it.
        cancel: () => {
          this.#closed = true;
          this.#room.wake(false);
        },
      },
      { highWaterMark: QUEUED_EVENTS },
    );
  }

  async write(text: string): Promise<void> {
    if (this.#closed) throw new ClientGone();
    this.#controller.enqueue(encoder.encode(text));
    // Room left in the queue: nothing to wait for, so no stall timer (one per chunk added up).
    if ((this.#controller.desiredSize ?? 0) > 0) return;
    if (!(await this.#room.wait()) || this.#closed) {
      this.#gone();
      throw new ClientGone();
    }
  }

  /** Gives up on a stalled client: its body ends in an error. */
  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#room.wake(false);
    try {
      this.#controller.error(new ClientGone());
    } catch {
      // Already cancelled by the client.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#room.wake(false);
    try {
      this.#controller.close();
    } catch {
      // Already cancelled by the client.
    }
  }
}
