import { Agent, type FormData } from 'undici';
import { UpstreamError } from '../core/failure.ts';
import type { AbortSource } from './cancel.ts';
import { classifyTransportError } from './transport-error.ts';
import { UpstreamCall } from './upstream-call.ts';

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
  signal?: AbortSource;
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
  /** True once the whole body has come in (nothing left to read off the connection). */
  readonly bodyEnded?: boolean;
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

const BACKSTOP_MS = 1_000;
const FIRST_BYTE_MESSAGE = 'upstream sent no response headers in time';

/** Origin and path of each upstream URL seen: channels send to a handful of them. */
const targets = new Map<string, { origin: string; path: string }>();

function target(url: string): { origin: string; path: string } {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    t = { origin: u.origin, path: `${u.pathname}${u.search}` };
    // Bounded: a URL per Gemini model (or a key in a query) must not grow it without end.
    if (targets.size >= 1_000) targets.clear();
    targets.set(url, t);
  }
  return t;
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
      const waits = req.waits;
      const call = new UpstreamCall(outer, timeouts.idleMs, waits);
      // First byte counts from the start, connect included: it is the client's wait.
      call.dog.arm('timeout-first-byte', timeouts.firstByteMs, FIRST_BYTE_MESSAGE);
      waits?.begin();
      try {
        const { origin, path } = target(req.url);
        agentFor(timeouts.connectMs).dispatch(
          {
            origin,
            path,
            method: req.method ?? 'POST',
            headers:
              req.headers instanceof Headers
                ? Object.fromEntries(req.headers)
                : (req.headers ?? {}),
            body: req.body ?? null,
            headersTimeout: timeouts.firstByteMs + BACKSTOP_MS,
            bodyTimeout: timeouts.idleMs + BACKSTOP_MS,
          },
          call,
        );
        await call.answered;
      } catch (err) {
        waits?.end();
        call.dog.finish();
        throw call.toError(err, 'headers');
      }
      waits?.end();
      call.dog.disarm();
      return call;
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
