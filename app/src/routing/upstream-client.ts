import { Agent, request } from 'undici';
import { UpstreamError, type FailureKind, type UpstreamFailure } from './failure.ts';

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
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeouts?: Partial<UpstreamTimeouts>;
  /** Client disconnect (or the failover budget): closes the upstream socket. */
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /**
   * The body as a Web stream (async-iterable, pipes into TextDecoderStream and
   * eventsource-parser's EventSourceParserStream). It errors with UpstreamError whose kind
   * is timeout-idle, connect (dropped mid-body) or aborted. Cancelling it closes the socket.
   */
  body: ReadableStream<Uint8Array>;
  /** Reads the whole body as UTF-8, at most `maxBytes` (the rest is dropped, socket closed). */
  text(maxBytes?: number): Promise<string>;
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
  return fail(
    'connect',
    phase === 'headers'
      ? `upstream connection failed${codeText}`
      : `upstream connection dropped mid-response${codeText}`,
  );
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
      const signal = req.signal;
      const aborted = (): boolean => signal?.aborted === true;
      if (aborted()) throw new UpstreamError(classifyTransportError(undefined, 'headers', true));
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(req.url, {
          dispatcher: agentFor(timeouts.connectMs),
          method: req.method ?? 'POST',
          headers: req.headers ?? {},
          body: req.body ?? null,
          headersTimeout: timeouts.firstByteMs,
          bodyTimeout: timeouts.idleMs,
          signal: signal ?? null,
        });
      } catch (err) {
        throw new UpstreamError(classifyTransportError(err, 'headers', aborted()), { cause: err });
      }
      const nodeBody = res.body;
      const iterator = nodeBody[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const mapBodyError = (err: unknown): UpstreamError =>
        err instanceof UpstreamError
          ? err
          : new UpstreamError(classifyTransportError(err, 'body', aborted()), { cause: err });

      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            try {
              const { value, done } = await iterator.next();
              if (done) controller.close();
              else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.length));
            } catch (err) {
              controller.error(mapBodyError(err));
            }
          },
          cancel() {
            // Destroying the undici body aborts the request, which closes the socket.
            nodeBody.destroy();
          },
        },
        { highWaterMark: 0 },
      );

      return {
        status: res.statusCode,
        headers: toHeaders(res.headers),
        body,
        async text(maxBytes = DEFAULT_TEXT_LIMIT) {
          const reader = body.getReader();
          const decoder = new TextDecoder();
          let out = '';
          let size = 0;
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              const room = maxBytes - size;
              size += value.byteLength;
              out += decoder.decode(value.subarray(0, Math.max(0, room)), { stream: true });
              if (size >= maxBytes) {
                await reader.cancel();
                break;
              }
            }
          } finally {
            reader.releaseLock();
          }
          return out + decoder.decode();
        },
      };
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
