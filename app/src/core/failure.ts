/**
 * Why an upstream attempt failed: the taxonomy adapters classify into and routing decides on.
 * The kind decides retry and failover (routing/failure.ts) and, with whether content was
 * already sent, which circuit it counts against (routing/attribution.ts), so transports and
 * response parsers only have to classify.
 *
 * - connect: refused, reset or dropped connection (before or during the response; `reached`
 *   and `midResponse` tell a channel that cannot be reached from one that hung up on a request)
 * - timeout-connect / timeout-first-byte / timeout-idle: the three per-channel timeouts
 * - http-status: any other non-2xx status (retryable or not, see isRetryableStatus)
 * - auth: 401, or an answer that says the key is invalid — the channel's key is rejected
 * - insufficient-quota: the channel's account is out of money or quota
 * - model: the channel does not serve this model, or not to this account (404, or a
 *   400/403 model_not_found)
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
  /**
   * The connection was made, and the request maybe sent, before it broke (a reset, a closed
   * socket): the channel can be reached, so this is no connect failure of the whole channel.
   */
  reached?: boolean;
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
  /** The answer says the channel's key is invalid (beyond what 401 says). */
  readonly keyInvalid?: boolean;
  /** The answer says the model is not served, or not to this account (beyond what 404 says). */
  readonly model?: boolean;
}

/**
 * The statuses' shared meaning, with what the adapter recognised in the body:
 * - 402, or a quota answer on 429/403 (and on 400 where a provider says so): insufficient-quota.
 * - 404, or a model answer on 400/403 ("Project … does not have access to model o3"): the
 *   channel lacks the model the relay thought it had. Checked before the key: a key that may
 *   not use one model still serves the others.
 * - 401, or a 4xx whose answer says the key is invalid: auth, which marks the channel's key
 *   dead for every model. A bare 403 does not: providers send it for a region, a moderation
 *   flag or an account policy, none of which says the key is dead (it stays http-status).
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
  if (status === 404 || (facts.model && (status === 400 || status === 403))) {
    return { kind: 'model', message: `upstream ${status}: model not available`, ...base };
  }
  if (status === 401 || (facts.keyInvalid && status >= 400 && status < 500)) {
    return { kind: 'auth', message: `upstream ${status}: key rejected`, ...base };
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
