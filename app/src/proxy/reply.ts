import type { Context } from 'hono';
import type { ProxyJob } from '../core/job.ts';
import type { RelayError } from '../errors.ts';
import type { AbortSource } from '../routing/cancel.ts';
import type { RelayRuntime } from '../runtime.ts';
import { startHeartbeat } from '../streaming/heartbeat.ts';
import type { Heartbeat } from '../streaming/heartbeat.ts';
import { SSE_HEADERS } from '../streaming/sse.ts';
import type { AppEnv } from '../types.ts';
import { nodeOutgoing } from '../node-bindings.ts';
import { answer, answerHeaders, answeredDirectly } from '../middleware/reply-headers.ts';
import { ClientStream } from './client-stream.ts';
import type { ClientSink } from './client-stream.ts';
import { NodeClientStream } from './node-client-stream.ts';

/** A whole JSON answer, ready for the client (already in the client's dialect). */
export interface JsonReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

type Decision =
  | { readonly kind: 'stream' }
  | { readonly kind: 'json'; readonly value: JsonReply }
  /** Thrown from the handler, so app.onError answers it (RelayError, or an image store's error). */
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * The client's side of one proxied request. Nothing is sent until there is something to say:
 * the first content (or a heartbeat, for a stream whose model thinks), the whole JSON answer,
 * or the error. Once a stream is open, the only honest ending for a failure is an error frame.
 */
export class Reply {
  readonly #c: Context<AppEnv>;
  readonly #job: ProxyJob;
  readonly #stallMs: number;
  #sink: ClientSink | undefined;
  #decide!: (d: Decision) => void;
  readonly #decided = new Promise<Decision>((resolve) => (this.#decide = resolve));
  #streaming = false;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #gone: AbortSource;

  /** @param gone the client's hang-up (see client-gone.ts) */
  constructor(c: Context<AppEnv>, rt: RelayRuntime, job: ProxyJob, gone: AbortSource) {
    this.#c = c;
    this.#job = job;
    this.#gone = gone;
    this.#stallMs = rt.config.server.clientStallMs;
    // Until the first content, heartbeats keep CloudFront (60 s read timeout) and clients waiting.
    this.#heartbeat = job.stream
      ? startHeartbeat({
          clock: rt.clock,
          intervalMs: rt.config.server.heartbeatMs,
          onBeat: async () => {
            this.openStream();
            await this.sink.write(job.dialect.heartbeat);
          },
        })
      : undefined;
  }

  /**
   * Only streams have a client-side pipe; a JSON answer never pays for one. Through a socket
   * (@hono/node-server's `env.outgoing`) it is Node's response itself.
   */
  get sink(): ClientSink {
    if (this.#sink) return this.#sink;
    const outgoing = nodeOutgoing(this.#c);
    this.#sink = outgoing
      ? new NodeClientStream(outgoing, this.#stallMs)
      : new ClientStream(this.#stallMs);
    return this.#sink;
  }

  /** Response headers are out (SSE): from here on every ending is written into the stream. */
  get streaming(): boolean {
    return this.#streaming;
  }

  stopHeartbeat(): void {
    this.#heartbeat?.stop();
  }

  openStream(): void {
    if (this.#streaming) return;
    const sink = this.sink;
    // The head before the flag: should it throw, the request still gets an error answer.
    if (sink instanceof NodeClientStream) sink.open(200, answerHeaders(this.#c, SSE_HEADERS));
    this.#streaming = true;
    this.#decide({ kind: 'stream' });
  }

  json(value: JsonReply): void {
    this.#decide({ kind: 'json', value });
  }

  error(error: unknown): void {
    this.#decide({ kind: 'error', error });
  }

  /** Ends an open stream with the dialect's error frame (skipped when the client already left). */
  async failStream(error: RelayError): Promise<void> {
    if (!this.#gone.aborted) {
      await this.sink
        .write(this.#job.dialect.streamError(error, this.#c.get('requestId')))
        .catch(() => {});
    }
    this.sink.close();
  }

  /**
   * The Response for the handler to return, once there is one; `ended` settles once the answer is
   * out (its row may still be on its way to the store).
   */
  async response(ended: Promise<void>): Promise<Response> {
    const decision = await this.#decided;
    if (decision.kind === 'error') throw decision.error;
    if (decision.kind === 'stream') {
      this.#c.get('record').done = ended;
      const sink = this.sink;
      return sink instanceof ClientStream
        ? answer(this.#c, sink.readable, 200, SSE_HEADERS)
        : answeredDirectly();
    }
    const { status, body, contentType } = decision.value;
    const outgoing = nodeOutgoing(this.#c);
    if (!outgoing) return answer(this.#c, body, status, { 'content-type': contentType });
    // Written here, as a stream's head is, not by the adapter once every middleware has
    // returned: the answer leaves that many microtask turns sooner, without a Response. (Its
    // status is on the record already: usage.finish put it there for the access line.)
    const own = { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) };
    outgoing.writeHead(status, answerHeaders(this.#c, own));
    outgoing.end(body);
    return answeredDirectly();
  }
}
