import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { UpstreamError } from '../core/failure.ts';
import type { AbortSource } from './cancel.ts';
import { classifyTransportError } from './transport-error.ts';
import type { UpstreamResponse, WaitObserver } from './upstream-client.ts';
import { Watchdog } from './watchdog.ts';

const DEFAULT_TEXT_LIMIT = 1 << 20;
const IDLE_MESSAGE = 'upstream went silent mid-response';
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
/** Why a body the relay stopped reading was cut (never shown: nobody reads it after). */
const CANCELLED = new Error('upstream body no longer wanted');

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * One upstream request as an undici dispatch handler: the answer's head, then its body chunk by
 * chunk, read under the watchdog's idle timer. It stands in for undici's `request()`, which
 * wraps every answer in a Node Readable (its state, buffer list and end-of-stream listeners)
 * read through an async-generator iterator, with an AsyncResource per request besides: a stream
 * kept all of that for as long as it ran. Chunks wait here in an array; reading is paused while
 * one waits, so a slow reader holds back the upstream as before.
 */
export class UpstreamCall
  implements Dispatcher.DispatchHandler, UpstreamResponse, AsyncIterableIterator<Uint8Array>
{
  status = 0;
  contentType: string | undefined = undefined;
  #raw: IncomingHttpHeaders = {};
  #headers: Headers | undefined;
  readonly dog: Watchdog;
  readonly #outer: AbortSource | undefined;
  readonly #idleMs: number;
  readonly #waits: WaitObserver | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** An abort that came before undici handed over its controller. */
  #abortReason: Error | undefined;
  #head: Waiter<UpstreamCall> | undefined;
  /** Resolves with this call once the answer's head is in (a 1xx is skipped). */
  readonly answered: Promise<UpstreamCall>;
  #queue: Buffer[] | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #reader: Waiter<Buffer | undefined> | undefined;

  constructor(outer: AbortSource | undefined, idleMs: number, waits: WaitObserver | undefined) {
    this.#outer = outer;
    this.#idleMs = idleMs;
    this.#waits = waits;
    this.answered = new Promise<UpstreamCall>((resolve, reject) => {
      this.#head = { resolve, reject };
    });
    this.dog = new Watchdog(outer, this.#onAbort);
  }

  /** The call is to stop: its reader hears it at once (chunks still queued are dropped). */
  readonly #onAbort = (reason: unknown): void => {
    const err = reason instanceof Error ? reason : new DOMException('aborted', 'AbortError');
    this.#queue = undefined;
    this.onResponseError(undefined, err);
    if (this.#controller) this.#controller.abort(err);
    // Not started yet (waiting for a connection): undici hears it when the request starts.
    else this.#abortReason = err;
  };

  toError(err: unknown, phase: 'headers' | 'body'): UpstreamError {
    if (err instanceof UpstreamError) return err;
    if (this.dog.timedOut) return new UpstreamError(this.dog.timedOut, { cause: err });
    return new UpstreamError(classifyTransportError(err, phase, this.#outer?.aborted === true), {
      cause: err,
    });
  }

  // --- undici's side

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    this.#raw = headers;
    const type = headers['content-type'];
    this.contentType = Array.isArray(type) ? type.join(', ') : type;
    const head = this.#head;
    this.#head = undefined;
    head?.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // llhttp reports empty bodies after a resume; a Readable ignores them, and so must this,
    // or pausing on one and resuming for it would go round for ever.
    if (chunk.length === 0) return;
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      return reader.resolve(chunk);
    }
    (this.#queue ??= []).push(chunk);
    controller.pause();
  }

  onResponseEnd(): void {
    this.#ended = true;
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.resolve(undefined);
  }

  onResponseError(_controller: unknown, error: Error): void {
    const head = this.#head;
    this.#head = undefined;
    if (head) return head.reject(error);
    if (this.#ended || this.#failure) return;
    this.#failure = { error };
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.reject(error);
  }

  // --- the relay's side

  get headers(): Headers {
    return (this.#headers ??= toHeaders(this.#raw));
  }

  get bodyEnded(): boolean {
    return this.#ended && !this.#queue?.length;
  }

  /** The next chunk as undici gave it; undefined at the end. */
  #take(): Buffer | undefined | Promise<Buffer | undefined> {
    const queue = this.#queue;
    if (queue && queue.length > 0) {
      const chunk = queue.shift()!;
      if (queue.length === 0) this.#controller?.resume();
      return chunk;
    }
    if (this.#failure) throw this.#failure.error;
    if (this.#ended) return undefined;
    return new Promise<Buffer | undefined>((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
  }

  /** One body chunk under the idle timer; undefined at the end. */
  async #read(): Promise<Buffer | undefined> {
    const dog = this.dog;
    dog.arm('timeout-idle', this.#idleMs, IDLE_MESSAGE);
    this.#waits?.begin();
    try {
      const chunk = await this.#take();
      this.#waits?.end();
      dog.disarm();
      if (chunk === undefined) dog.finish();
      return chunk;
    } catch (err) {
      this.#waits?.end();
      dog.finish();
      throw this.toError(err, 'body');
    }
  }

  /** Stops reading: the request is aborted, which closes its socket. */
  #cancel(): void {
    this.dog.finish();
    if (this.#ended || this.#failure) return;
    this.#onAbort(CANCELLED);
  }

  chunks(): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    const value = await this.#read();
    return value === undefined ? DONE : { done: false, value };
  }

  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#cancel();
    return DONE;
  }

  text(maxBytes = DEFAULT_TEXT_LIMIT): Promise<string> {
    // What has come in is taken at once. A JSON answer of a few KB comes with its head, so
    // that is all of it: resuming the parser then brings its end in the same call, and the body
    // is read without a promise and an idle timer's arming per chunk and one more for the end.
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for (let queue = this.#queue; queue?.length && size < maxBytes; queue = this.#queue) {
        this.#queue = undefined;
        for (const chunk of queue) {
          chunks.push(chunk);
          size += chunk.length;
        }
        this.#controller?.resume();
      }
      if (size < maxBytes && (!this.#ended || this.#failure)) {
        return this.#readText(chunks, size, maxBytes);
      }
      // Cut at maxBytes (#cancel ends the watchdog too), or all in.
      if (size >= maxBytes) this.#cancel();
      else this.dog.finish();
      return Promise.resolve(utf8(chunks, maxBytes));
    } catch (err) {
      // As from the async method it was: callers catch a rejection, not a throw.
      return Promise.reject(err);
    }
  }

  /** The rest of the body, a chunk at a time under the idle timer. */
  async #readText(chunks: Buffer[], size: number, maxBytes: number): Promise<string> {
    for (let chunk = await this.#read(); chunk !== undefined; chunk = await this.#read()) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) {
        this.#cancel();
        break;
      }
    }
    return utf8(chunks, maxBytes);
  }
}

/**
 * The first maxBytes of a body, decoded once, whole: a multi-byte character split across chunks
 * stays intact, and one cut at maxBytes becomes U+FFFD as a streaming TextDecoder would make it.
 */
function utf8(chunks: readonly Buffer[], maxBytes: number): string {
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const text = bytes.toString('utf8', 0, Math.min(maxBytes, bytes.length));
  // A byte-order mark is not part of the JSON (TextDecoder drops it too).
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
  }
  return headers;
}
