import { Agent, request, type Dispatcher, type FormData } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { UpstreamError, type FailureKind, type UpstreamFailure } from '../core/failure.ts';
import { Watchdog } from './watchdog.ts';

export interface UpstreamTimeouts {
  /** TCP (and TLS) connect. */
  connectMs: number;
  /** From request sent to complete response headers. */
  firstByteMs: number;
  /** Longest silence between two body chunks. */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = {
  connectMs: 10_000,
  // CloudFront's default origin read timeout; see DESIGN.md.
  firstByteMs: 60_000,
  idleMs: 60_000,
};

export interface UpstreamRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string> | Headers;
  /** FormData is undici's (multipart uploads such as audio transcriptions). */
  body?: string | Uint8Array | FormData | null;
  timeouts?: Partial<UpstreamTimeouts>;
  /** Client disconnect (or the failover budget): closes the upstream socket. */
  signal?: AbortSignal;
  /** Told when each wait on the upstream (headers, then every body chunk) begins and ends. */
  waits?: WaitObserver;
}

export interface WaitObserver {
  begin(): void;
  end(): void;
}

export interface UpstreamResponse {
  status: number;
  /** Built on first read: most answers only need their content type. */
  readonly headers: Headers;
  /** The content-type header, read without building `headers`. */
  readonly contentType: string | undefined;
  /** Reads the whole body as UTF-8, at most `maxBytes` (the rest is dropped, socket closed). */
  text(maxBytes?: number): Promise<string>;
  /**
   * The body as it arrives, chunk by chunk (the SSE path), with no Web stream in between. It
   * throws UpstreamError whose kind is timeout-idle, connect (dropped mid-body) or aborted.
   * Ending the iteration early closes the socket. Read the body once, one way or the other.
   */
  chunks(): AsyncIterableIterator<Uint8Array>;
}

export interface UpstreamClient {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export interface UpstreamClientOptions {
  /** Idle keep-alive sockets are closed after this long. */
  keepAliveTimeoutMs?: number;
  /** Sockets per origin. */
  connectionsPerOrigin?: number;
}

const DEFAULT_TEXT_LIMIT = 1 << 20;
const BACKSTOP_MS = 1_000;

interface ErrorLike {
  code?: unknown;
  name?: unknown;
}

/** Maps undici / socket errors to a failure; `phase` tells a dropped body from a refused connect. */
export function classifyTransportError(
  err: unknown,
  phase: 'headers' | 'body',
  aborted: boolean,
): UpstreamFailure {
  const { code, name } = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const fail = (kind: FailureKind, message: string): UpstreamFailure => ({ kind, message });
  if (aborted || code === 'UND_ERR_ABORTED' || name === 'AbortError') {
    return fail('aborted', 'request aborted');
  }
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fail('timeout-connect', 'upstream connect timed out');
    case 'UND_ERR_HEADERS_TIMEOUT':
      return fail('timeout-first-byte', 'upstream sent no response headers in time');
    case 'UND_ERR_BODY_TIMEOUT':
      return fail('timeout-idle', 'upstream went silent mid-response');
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return fail('malformed', `upstream response malformed (${code})`);
  }
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return fail('malformed', `upstream response malformed (${code})`);
  }
  const codeText = typeof code === 'string' ? ` (${code})` : '';
  if (phase === 'headers' && typeof code === 'string' && isUnreachable(code))
    return fail('connect', `upstream connection failed${codeText}`);
  if (phase === 'headers') {
    // A reset or a closed socket: the upstream took the connection, then hung up on this request.
    return {
      ...fail('connect', `upstream closed the connection before answering${codeText}`),
      reached: true,
    };
  }
  // The channel was reachable: breakers must not read this as a connect failure.
  return {
    ...fail('connect', `upstream connection dropped mid-response${codeText}`),
    midResponse: true,
  };
}

/** Refused, DNS, routing and TLS failures: no connection to the upstream could be made. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);
const TLS_PREFIXES = ['ERR_TLS_', 'ERR_SSL_', 'ERR_OSSL_', 'CERT_', 'UNABLE_TO_'];

function isUnreachable(code: string): boolean {
  return UNREACHABLE.has(code) || TLS_PREFIXES.some((p) => code.startsWith(p));
}

type ResponseData = Dispatcher.ResponseData;

const FIRST_BYTE_MESSAGE = 'upstream sent no response headers in time';
const IDLE_MESSAGE = 'upstream went silent mid-response';
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

function toError(
  err: unknown,
  phase: 'headers' | 'body',
  dog: Watchdog,
  outer: AbortSignal | undefined,
): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (dog.timedOut) return new UpstreamError(dog.timedOut, { cause: err });
  return new UpstreamError(classifyTransportError(err, phase, outer?.aborted === true), {
    cause: err,
  });
}

/**
 * One upstream answer after its headers: the body read under the idle timer, as chunks or as
 * text. A class, not an object of closures: every request makes one, and a stream keeps it for
 * as long as it runs (an object literal with a getter is a dictionary object besides).
 */
class UpstreamCall implements UpstreamResponse, AsyncIterableIterator<Uint8Array> {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly #raw: IncomingHttpHeaders;
  #headers: Headers | undefined;
  readonly #body: ResponseData['body'];
  #iterator: AsyncIterator<Buffer> | undefined;
  readonly #dog: Watchdog;
  readonly #outer: AbortSignal | undefined;
  readonly #idleMs: number;
  readonly #waits: WaitObserver | undefined;

  constructor(
    res: ResponseData,
    dog: Watchdog,
    outer: AbortSignal | undefined,
    idleMs: number,
    waits: WaitObserver | undefined,
  ) {
    this.status = res.statusCode;
    this.#raw = res.headers;
    const type = res.headers['content-type'];
    this.contentType = Array.isArray(type) ? type.join(', ') : type;
    this.#body = res.body;
    this.#dog = dog;
    this.#outer = outer;
    this.#idleMs = idleMs;
    this.#waits = waits;
  }

  get headers(): Headers {
    return (this.#headers ??= toHeaders(this.#raw));
  }

  /** One body chunk under the idle timer; undefined at the end. */
  async #read(): Promise<Buffer | undefined> {
    const dog = this.#dog;
    dog.arm('timeout-idle', this.#idleMs, IDLE_MESSAGE);
    this.#waits?.begin();
    try {
      const { value, done } = await (this.#iterator ??= this.#body[Symbol.asyncIterator]()).next();
      this.#waits?.end();
      dog.disarm();
      if (done) dog.finish();
      return done ? undefined : (value as Buffer);
    } catch (err) {
      this.#waits?.end();
      dog.finish();
      throw toError(err, 'body', dog, this.#outer);
    }
  }

  #cancel(): void {
    this.#dog.finish();
    // Destroying the undici body aborts the request, which closes the socket.
    this.#body.destroy();
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

  async text(maxBytes = DEFAULT_TEXT_LIMIT): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for (let chunk = await this.#read(); chunk !== undefined; chunk = await this.#read()) {
      const room = maxBytes - size;
      size += chunk.length;
      chunks.push(room < chunk.length ? chunk.subarray(0, Math.max(0, room)) : chunk);
      if (size >= maxBytes) {
        this.#cancel();
        break;
      }
    }
    // Decoded once, whole: a multi-byte character split across chunks stays intact, and
    // one cut at maxBytes becomes U+FFFD like a streaming TextDecoder would make it.
    const text = Buffer.concat(chunks).toString('utf8');
    // A byte-order mark is not part of the JSON (TextDecoder drops it too).
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
  }
  return headers;
}

/**
 * HTTP client for upstream providers: one undici Agent (keep-alive pool per origin) per
 * connect timeout value, since undici sets that per dispatcher; first-byte and idle timeouts
 * are per request. Every failure surfaces as UpstreamError with a FailureKind.
 */
export function createUpstreamClient(options: UpstreamClientOptions = {}): UpstreamClient {
  const agents = new Map<number, Agent>();
  const agentFor = (connectMs: number): Agent => {
    let agent = agents.get(connectMs);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: connectMs },
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
        connections: options.connectionsPerOrigin ?? 64,
      });
      agents.set(connectMs, agent);
    }
    return agent;
  };

  return {
    async request(req) {
      const timeouts = { ...DEFAULT_TIMEOUTS, ...req.timeouts };
      const outer = req.signal;
      if (outer?.aborted)
        throw new UpstreamError(classifyTransportError(undefined, 'headers', true));

      // Our own timers: undici's header/body timeouts run on a ~0.5-1 s coarse clock, too
      // loose for short per-channel limits; undici's stay as a backstop.
      const dog = new Watchdog(outer);
      // First byte counts from the start, connect included: it is the client's wait.
      dog.arm('timeout-first-byte', timeouts.firstByteMs, FIRST_BYTE_MESSAGE);
      let res: ResponseData;
      const waits = req.waits;
      waits?.begin();
      try {
        res = await request(req.url, {
          dispatcher: agentFor(timeouts.connectMs),
          method: req.method ?? 'POST',
          headers:
            req.headers instanceof Headers ? Object.fromEntries(req.headers) : (req.headers ?? {}),
          body: req.body ?? null,
          headersTimeout: timeouts.firstByteMs + BACKSTOP_MS,
          bodyTimeout: timeouts.idleMs + BACKSTOP_MS,
          signal: dog.signal,
        });
      } catch (err) {
        waits?.end();
        dog.finish();
        throw toError(err, 'headers', dog, outer);
      }
      waits?.end();
      dog.disarm();
      return new UpstreamCall(res, dog, outer, timeouts.idleMs, waits);
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
