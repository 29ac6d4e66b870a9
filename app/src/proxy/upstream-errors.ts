import { RelayError } from '../errors.ts';
import type { UpstreamFailure } from './upstream.ts';

/** What went wrong with one attempt, and whether another channel may do better. */
export interface AttemptFailure {
  readonly retryable: boolean;
  readonly error: RelayError;
  /** Seconds the upstream asked us to wait, when it said. */
  readonly retryAfterMs?: number;
  readonly kind: string;
}

const MAX_ERROR_BODY = 64 * 1024;

/** Reads at most 64 KiB of an error body; a hostile upstream cannot make us buffer more. */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  limit = MAX_ERROR_BODY,
): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken error body still tells us the status; the text is a bonus.
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

interface UpstreamErrorShape {
  message?: string;
  code?: string | number | null;
  type?: string;
  param?: string | null;
}

export function upstreamErrorOf(text: string): UpstreamErrorShape | undefined {
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (json && typeof json.error === 'object' && json.error !== null)
      return json.error as UpstreamErrorShape;
    if (json && typeof json.error === 'string') return { message: json.error };
    if (json && typeof json.message === 'string') return { message: json.message };
  } catch {
    // not JSON
  }
  return undefined;
}

export function retryAfterMs(headers: Headers, capMs = 60_000): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.min(Number(ms), capMs);
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+$/.test(ra.trim())) return Math.min(Number(ra) * 1000, capMs);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), capMs);
}

/**
 * An upstream HTTP error → what the client should see if no other channel does better.
 * Client mistakes (400, 413, 422) pass through with the upstream's message; the relay's own
 * problems (its provider key rejected, provider quota gone) never masquerade as the client's.
 */
export function failureFromStatus(
  status: number,
  headers: Headers,
  text: string,
  channel: string,
): AttemptFailure {
  const upstream = upstreamErrorOf(text);
  const msg = upstream?.message ? String(upstream.message).slice(0, 2000) : `HTTP ${status}`;
  const code = upstream?.code == null ? undefined : String(upstream.code);
  const wait = retryAfterMs(headers);
  const insufficient = code === 'insufficient_quota' || status === 402;
  if (status === 401 || status === 403 || insufficient) {
    return {
      retryable: true,
      kind: insufficient ? 'insufficient-quota' : 'auth',
      error: new RelayError(
        502,
        insufficient ? 'upstream_quota_exhausted' : 'upstream_auth_failed',
        `Upstream channel "${channel}" rejected the relay's credentials (HTTP ${status}). The operator needs to check this channel.`,
      ),
    };
  }
  if (status === 429) {
    return {
      retryable: true,
      kind: 'http-status',
      ...(wait !== undefined && { retryAfterMs: wait }),
      error: new RelayError(429, 'rate_limit_exceeded', `Upstream is rate limiting: ${msg}`, {
        headers: wait !== undefined ? { 'retry-after': String(Math.ceil(wait / 1000)) } : {},
      }),
    };
  }
  if (status === 408 || status === 409 || status >= 500) {
    return {
      retryable: true,
      kind: 'http-status',
      ...(wait !== undefined && { retryAfterMs: wait }),
      error: new RelayError(502, 'upstream_error', `Upstream failed with HTTP ${status}: ${msg}`),
    };
  }
  if (status === 404) {
    // The channel claims the model but its upstream does not know it: another channel may.
    return {
      retryable: true,
      kind: 'model',
      error: new RelayError(404, 'model_not_found', msg, { param: 'model' }),
    };
  }
  const clientStatus = ([400, 413, 415, 422].includes(status) ? status : 400) as
    400 | 413 | 415 | 422;
  return {
    retryable: false,
    kind: 'http-status',
    error: new RelayError(clientStatus, code ?? 'invalid_request_error', msg, {
      param: upstream?.param ?? null,
    }),
  };
}

export function failureFromTransport(f: UpstreamFailure): AttemptFailure {
  switch (f.kind) {
    case 'aborted':
      return {
        retryable: false,
        kind: 'aborted',
        error: new RelayError(499 as 400, 'client_closed_request', 'Client closed the request.'),
      };
    case 'timeout-connect':
    case 'timeout-first-byte':
    case 'timeout-idle':
      return {
        retryable: true,
        kind: f.kind,
        error: new RelayError(504, 'upstream_timeout', `Upstream timed out: ${f.message}.`),
      };
    default:
      return {
        retryable: true,
        kind: f.kind,
        error: new RelayError(502, 'upstream_unreachable', `Upstream unreachable: ${f.message}.`),
      };
  }
}
