/**
 * Why an upstream attempt failed: the taxonomy adapters classify into and routing decides on.
 * The kind decides retry and failover (routing/failure.ts) and, with whether content was
 * already sent, which circuit it counts against (routing/attribution.ts), so transports and
 * response parsers only have to classify.
 *
 * - connect: refused, reset or dropped connection (before or during the response)
 * - timeout-connect / timeout-first-byte / timeout-idle: the three per-channel timeouts
 * - http-status: any other non-2xx status (retryable or not, see isRetryableStatus)
 * - auth: 401/403 — the channel's key is rejected
 * - insufficient-quota: the channel's account is out of money or quota
 * - model: the channel does not serve this model (404, or 400 model_not_found)
 * - malformed: a 2xx body that is not the wire format (bad JSON, broken SSE)
 * - stream-error: an error event inside a 200 stream
 * - aborted: the client went away; never retried, never held against the channel
 */
export type FailureKind =
  | 'connect'
  | 'timeout-connect'
  | 'timeout-first-byte'
  | 'timeout-idle'
  | 'http-status'
  | 'auth'
  | 'insufficient-quota'
  | 'model'
  | 'malformed'
  | 'stream-error'
  | 'aborted';

/** The upstream's own error, normalised, kept so a client error can be passed on. */
export interface UpstreamErrorBody {
  message: string;
  type: string | null;
  code: string | null;
  param: string | null;
}

export interface UpstreamFailure {
  kind: FailureKind;
  /** Short description for logs; never contains request headers or keys. */
  message: string;
  status?: number;
  retryAfterMs?: number;
  error?: UpstreamErrorBody;
  /** The connection broke after the response had started (not a connect failure). */
  midResponse?: boolean;
}

/** Thrown by the upstream client so attempt code needs no try/catch for transport failures. */
export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure, options?: ErrorOptions) {
    super(failure.message, options);
    this.name = 'UpstreamError';
    this.failure = failure;
  }
}

export function isUpstreamError(value: unknown): value is UpstreamError {
  return value instanceof UpstreamError;
}

export function abortedFailure(): UpstreamFailure {
  return { kind: 'aborted', message: 'client disconnected' };
}

/** What an adapter read from an error answer in its own dialect, for classifyStatus. */
export interface ErrorFacts {
  readonly status: number;
  readonly error?: UpstreamErrorBody | undefined;
  readonly retryAfterMs?: number | undefined;
  /** The answer says the channel's account cannot pay. */
  readonly quota?: boolean;
  /** The answer says the channel's key is invalid (beyond what 401/403 say). */
  readonly keyInvalid?: boolean;
  /** The answer says the model is not served (beyond what 404 says). */
  readonly model?: boolean;
}

/**
 * The statuses' shared meaning, with what the adapter recognised in the body:
 * - 402, or a quota answer on 429/403 (and on 400 where a provider says so): insufficient-quota.
 * - 401/403 (or a key-invalid answer): auth; both mark the key dead, the kind only makes the
 *   log honest.
 * - 404, or a model answer on 400: the channel lacks the model the relay thought it had.
 * - a 2xx-less 1xx/3xx means a wrong baseUrl, not a client mistake (undici follows no
 *   redirects, and passing a 3xx on would hand the client a status with no meaning here).
 * - anything else is an ordinary status ("overloaded" answers arrive as 429/5xx/529).
 */
export function classifyStatus(facts: ErrorFacts): UpstreamFailure {
  const { status } = facts;
  const base = {
    status,
    ...(facts.retryAfterMs !== undefined ? { retryAfterMs: facts.retryAfterMs } : {}),
    ...(facts.error ? { error: facts.error } : {}),
  };
  if (status === 402 || (facts.quota && (status === 429 || status === 403 || status === 400))) {
    return {
      kind: 'insufficient-quota',
      message: `upstream ${status}: insufficient quota`,
      ...base,
    };
  }
  if (status === 401 || status === 403 || (status === 400 && facts.keyInvalid)) {
    return { kind: 'auth', message: `upstream ${status}: key rejected`, ...base };
  }
  if (status === 404 || (status === 400 && facts.model)) {
    return { kind: 'model', message: `upstream ${status}: model not available`, ...base };
  }
  if (status < 400) {
    return { kind: 'malformed', message: `upstream answered HTTP ${status}`, ...base };
  }
  return { kind: 'http-status', message: `upstream ${status}`, ...base };
}

const MAX_MESSAGE = 300;

/** A provider's error text, bounded for logs and clients. */
export function boundedMessage(message: string): string {
  return message.slice(0, MAX_MESSAGE);
}
