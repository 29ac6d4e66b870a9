import { Agent, request, type FormData } from 'undici';
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
      const { arm, disarm, finish } = dog;
      const toError = (err: unknown, phase: 'headers' | 'body'): UpstreamError => {
        if (err instanceof UpstreamError) return err;
        if (dog.timedOut) return new UpstreamError(dog.timedOut, { cause: err });
        return new UpstreamError(classifyTransportError(err, phase, outer?.aborted === true), {
          cause: err,
        });
      };

      // First byte counts from the start, connect included: it is the client's wait.
      arm('timeout-first-byte', timeouts.firstByteMs, 'upstream sent no response headers in time');
      let res: Awaited<ReturnType<typeof request>>;
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
        finish();
        throw toError(err, 'headers');
      }
      waits?.end();
      disarm();
      const nodeBody = res.body;
      const iterator = nodeBody[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      /** One body chunk under the idle timer; undefined at the end. */
      const next = async (): Promise<Buffer | undefined> => {
        arm('timeout-idle', timeouts.idleMs, 'upstream went silent mid-response');
        waits?.begin();
        try {
          const { value, done } = await iterator.next();
          waits?.end();
          disarm();
          if (done) finish();
          return done ? undefined : value;
        } catch (err) {
          waits?.end();
          finish();
          throw toError(err, 'body');
        }
      };
      const cancel = (): void => {
        finish();
        // Destroying the undici body aborts the request, which closes the socket.
        nodeBody.destroy();
      };
      const raw = res.headers;
      let headers: Headers | undefined;
      const type = raw['content-type'];
      return {
        status: res.statusCode,
        get headers() {
          return (headers ??= toHeaders(raw));
        },
        contentType: Array.isArray(type) ? type.join(', ') : type,
        chunks() {
          const iterator: AsyncIterableIterator<Uint8Array> = {
            [Symbol.asyncIterator]: () => iterator,
            next: async () => {
              const value = await next();
              return value === undefined
                ? { done: true, value: undefined }
                : { done: false, value };
            },
            return: async () => {
              cancel();
              return { done: true, value: undefined };
            },
          };
          return iterator;
        },
        async text(maxBytes = DEFAULT_TEXT_LIMIT) {
          const chunks: Buffer[] = [];
          let size = 0;
          for (let chunk = await next(); chunk !== undefined; chunk = await next()) {
            const room = maxBytes - size;
            size += chunk.length;
            chunks.push(room < chunk.length ? chunk.subarray(0, Math.max(0, room)) : chunk);
            if (size >= maxBytes) {
              cancel();
              break;
            }
          }
          // Decoded once, whole: a multi-byte character split across chunks stays intact, and
          // one cut at maxBytes becomes U+FFFD like a streaming TextDecoder would make it.
          const text = Buffer.concat(chunks).toString('utf8');
          // A byte-order mark is not part of the JSON (TextDecoder drops it too).
          return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
        },
      };
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
