import { Agent, fetch as undiciFetch } from 'undici';
import type { UpstreamRequest } from '../providers/types.ts';

export interface UpstreamTimeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly idleMs: number;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
}

export type UpstreamFailureKind =
  'connect' | 'timeout-connect' | 'timeout-first-byte' | 'timeout-idle' | 'aborted' | 'network';

/** A transport-level failure: no HTTP answer, or the answer broke off. */
export class UpstreamFailure extends Error {
  readonly kind: UpstreamFailureKind;
  constructor(kind: UpstreamFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamFailure';
    this.kind = kind;
  }
}

export interface UpstreamClient {
  send(
    req: UpstreamRequest,
    options: { signal: AbortSignal; timeouts: UpstreamTimeouts },
  ): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Maps undici's error codes onto the failure kinds routing decides on. */
export function classifyTransportError(err: unknown, signal?: AbortSignal): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  if (signal?.aborted) return new UpstreamFailure('aborted', 'client went away', { cause: err });
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: string }).code;
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new UpstreamFailure('timeout-connect', 'upstream connect timed out', { cause: err });
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new UpstreamFailure('timeout-first-byte', 'upstream sent no response in time', {
          cause: err,
        });
      case 'UND_ERR_BODY_TIMEOUT':
        return new UpstreamFailure('timeout-idle', 'upstream went silent mid-response', {
          cause: err,
        });
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new UpstreamFailure('connect', `upstream unreachable (${code})`, { cause: err });
    }
    if ((e as { name?: string }).name === 'AbortError') {
      return new UpstreamFailure('aborted', 'request aborted', { cause: err });
    }
    e = (e as { cause?: unknown }).cause;
  }
  return new UpstreamFailure('network', 'upstream connection failed', { cause: err });
}

/**
 * undici gives exactly the three timeouts a channel needs: connect, headers (first byte)
 * and body (idle between chunks). One pooled Agent per timeout profile keeps connections warm.
 */
export function createUpstreamClient(): UpstreamClient {
  const agents = new Map<string, Agent>();
  const agentFor = (t: UpstreamTimeouts) => {
    const id = `${t.connectMs}/${t.firstByteMs}/${t.idleMs}`;
    let agent = agents.get(id);
    if (!agent) {
      agent = new Agent({
        connectTimeout: t.connectMs,
        headersTimeout: t.firstByteMs,
        bodyTimeout: t.idleMs,
        keepAliveTimeout: 30_000,
      });
      agents.set(id, agent);
    }
    return agent;
  };
  return {
    async send(req, { signal, timeouts }) {
      try {
        const res = await undiciFetch(req.url, {
          method: req.method,
          headers: req.headers as unknown as Record<string, string>,
          body: req.body as never,
          signal,
          dispatcher: agentFor(timeouts),
          redirect: 'manual',
          ...(isStream(req.body) && { duplex: 'half' as const }),
        });
        return {
          status: res.status,
          headers: res.headers as unknown as Headers,
          body: res.body as unknown as ReadableStream<Uint8Array> | null,
        };
      } catch (err) {
        throw classifyTransportError(err, signal);
      }
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}

const isStream = (body: unknown): boolean =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as ReadableStream).getReader === 'function';
