import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BackpressuredSink } from './client-stream.ts';

/**
 * The body of an SSE response written straight to Node's response, for a request that came
 * through a socket. Through a Web ReadableStream (which @hono/node-server reads and writes to
 * the socket), every event cost an encoded copy, a queue entry and a read promise: ~4 µs per
 * event, a fifth of a 20-event stream's CPU in a bare Hono server. Writes wait while the
 * socket's buffer is full. Node sends the writes of one turn (the head and the first frames)
 * in one syscall.
 */
export class NodeClientStream extends BackpressuredSink {
  readonly #res: ServerResponse;

  /** @param stallMs see BackpressuredSink (server.clientStallMs) */
  constructor(res: ServerResponse, stallMs: number) {
    super(stallMs);
    this.#res = res;
    if (res.destroyed) this.gone();
    // No 'error' listener needed: Node emits one only for a write after end(), which a closed
    // sink never makes (a write to a destroyed response just returns false).
    res.on('drain', () => this.roomAgain());
    // After an end of ours, or the client hung up.
    res.once('close', () => this.gone());
  }

  /** The response head; it leaves with the first write. */
  open(status: number, headers: OutgoingHttpHeaders): void {
    this.#res.writeHead(status, headers);
  }

  protected put(text: string): boolean {
    return this.#res.write(text);
  }

  /**
   * The connection is closed outright, which the proxy hears as a hang-up (client-gone.ts).
   * Nothing goes to stderr: a stall is the client's doing.
   */
  protected hangUp(): void {
    this.#res.destroy();
  }

  protected end(): void {
    this.#res.end();
  }
}
