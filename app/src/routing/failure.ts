import { parseRetryAfter, type HeaderSource } from './backoff.ts';

/**
 * Why an upstream attempt failed. The kind decides retry and failover (see failurePolicy) and,
 * with whether content was already sent, which circuit it counts against (see attribution.ts),
 * so transports and response parsers only have to classify.
 *
 * - connect: refused, reset or dropped connection (before or during the response)
 * - timeout-connect / timeout-first-byte / timeout-idle: the three per-channel timeouts
 * - http-status: any other non-2xx status (retryable or not, see isRetryableStatus)
 * - auth: 401/403 — the channel's key is rejected
 * - insufficient-quota: the channel's account is out of money or quota
 * - model: the channel does not serve this model (404, or 400 model_not_found)
 * - malformed: a 2xx body that is not the wire format (bad JSON, broken SSE)
 * - stream-error: an `{"error":…}` object inside a 200 stream
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

/** The upstream's own OpenAI-shaped error, kept so a client error can be passed through. */
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

/** Statuses worth asking again: timeouts, conflicts, rate limits and server faults. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status <= 599);
}

export interface FailurePolicy {
  /** Ask the same channel again after a backoff. */
  retrySameChannel: boolean;
  /** Move to the next channel when this one is given up. False = answer the client now. */
  failover: boolean;
}

export function failurePolicy(failure: Pick<UpstreamFailure, 'kind' | 'status'>): FailurePolicy {
  switch (failure.kind) {
    case 'connect':
    case 'timeout-connect':
      return { retrySameChannel: true, failover: true };
    case 'http-status':
      return failure.status !== undefined && isRetryableStatus(failure.status)
        ? { retrySameChannel: true, failover: true }
        : // The request itself is wrong: every channel would say the same, and the channel is
          // healthy, so the client gets the answer as is.
          { retrySameChannel: false, failover: false };
    // A channel that sat silent for a whole timeout, or talked nonsense, is unlikely to do
    // better straight away; waiting for it again would spend the client's time budget.
    case 'timeout-first-byte':
    case 'timeout-idle':
    case 'malformed':
    case 'stream-error':
      return { retrySameChannel: false, failover: true };
    // The key, the account or the model is wrong on this channel: another one may be fine.
    case 'auth':
    case 'insufficient-quota':
    case 'model':
      return { retrySameChannel: false, failover: true };
    case 'aborted':
      return { retrySameChannel: false, failover: false };
  }
}

const MAX_MESSAGE = 300;

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

/** Reads `{"error":{…}}` (or a bare `{"message":…}`) from an upstream body; tolerant of junk. */
export function parseUpstreamErrorBody(text: string | undefined): UpstreamErrorBody | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return upstreamErrorFromObject(parsed);
}

export function upstreamErrorFromObject(parsed: unknown): UpstreamErrorBody | undefined {
  // Gemini's OpenAI endpoint wraps its error in a one-element array.
  if (Array.isArray(parsed))
    return parsed.length > 0 ? upstreamErrorFromObject(parsed[0]) : undefined;
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const outer = parsed as Record<string, unknown>;
  const inner =
    typeof outer.error === 'object' && outer.error !== null
      ? (outer.error as Record<string, unknown>)
      : typeof outer.error === 'string'
        ? { message: outer.error }
        : outer;
  const message = str(inner.message);
  if (message === null) return undefined;
  return {
    message: message.slice(0, MAX_MESSAGE),
    type: str(inner.type),
    code: str(inner.code),
    param: str(inner.param),
  };
}

const QUOTA_CODES = new Set([
  'insufficient_quota',
  'billing_hard_limit_reached',
  'billing_not_active',
]);
const BILLING_TEXT = /billing|quota|balance|credit|payment|insufficient[ _]funds/i;
/**
 * Gemini answers a bad key with a 400; only its structured `reason` is trusted, because an
 * error message often echoes what the client sent ("Invalid value: '<your role>'"), and a
 * client must never be able to make the relay think its provider key is dead.
 */
function saysKeyInvalid(bodyText: string | undefined): boolean {
  if (!bodyText || !bodyText.includes('API_KEY_INVALID')) return false;
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    const outer = (Array.isArray(parsed) ? parsed[0] : parsed) as
      { error?: { details?: unknown } } | undefined;
    const details = outer?.error?.details;
    return (
      Array.isArray(details) &&
      details.some((d: { reason?: unknown }) => d?.reason === 'API_KEY_INVALID')
    );
  } catch {
    return false;
  }
}
const MODEL_CODES = new Set(['model_not_found', 'model_not_available', 'invalid_model']);
/** Anchored at the start: a message that merely contains these words may be echoed client input. */
const MODEL_TEXT =
  /^(the )?model\b[^.]{0,200}?\b(does not exist|not exist|not found|not supported|unsupported|is not available)/i;

export interface HttpFailureInput {
  status: number;
  headers?: HeaderSource;
  /** The response body (bounded by the caller); used for the error code and message. */
  bodyText?: string;
  /** Epoch ms, for Retry-After HTTP-dates. */
  now: number;
}

/**
 * Classifies a non-2xx upstream answer. Decisions:
 * - 402 always means the channel's account cannot pay: insufficient-quota.
 * - 429 is a rate limit unless its code says the quota is gone (OpenAI's insufficient_quota).
 * - 403 is auth unless it talks about billing/quota (some providers answer 403 to unpaid
 *   accounts); both mark the key dead, the kind only makes the log honest.
 * - 404 from a model endpoint means the channel lacks the model the relay thought it had
 *   (or a wrong baseUrl); 400 counts as model only with a model code or wording, because a
 *   plain 400 is about the client's request and must reach the client.
 * - "overloaded" answers arrive as 429/5xx/529 and are ordinary retryable statuses.
 */
export function classifyHttpFailure(input: HttpFailureInput): UpstreamFailure {
  const { status } = input;
  const error = parseUpstreamErrorBody(input.bodyText);
  const retryAfterMs = parseRetryAfter(input.headers, input.now);
  const base = {
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(error ? { error } : {}),
  };
  const code = error?.code ?? error?.type ?? '';
  const text = error?.message ?? '';
  const quotaCode = QUOTA_CODES.has(code) || QUOTA_CODES.has(error?.type ?? '');

  if (
    status === 402 ||
    (status === 429 && quotaCode) ||
    (status === 403 && (quotaCode || BILLING_TEXT.test(text)))
  ) {
    return {
      kind: 'insufficient-quota',
      message: `upstream ${status}: insufficient quota`,
      ...base,
    };
  }
  if (status === 401 || status === 403 || (status === 400 && saysKeyInvalid(input.bodyText))) {
    return { kind: 'auth', message: `upstream ${status}: key rejected`, ...base };
  }
  const aboutModel = MODEL_CODES.has(code) || MODEL_TEXT.test(text);
  if (status === 404 || (status === 400 && aboutModel)) {
    return { kind: 'model', message: `upstream ${status}: model not available`, ...base };
  }
  if (status < 400) {
    // A redirect or other oddity means a wrong baseUrl, not a client mistake: undici follows
    // no redirects, and passing a 3xx on would hand the client a status with no meaning here.
    return { kind: 'malformed', message: `upstream answered HTTP ${status}`, ...base };
  }
  return { kind: 'http-status', message: `upstream ${status}`, ...base };
}

/** An `{"error":…}` object found inside a 200 event stream. */
export function classifyStreamError(payload: unknown): UpstreamFailure {
  const error = upstreamErrorFromObject(payload);
  const code = error?.code ?? error?.type ?? '';
  if (QUOTA_CODES.has(code)) {
    return {
      kind: 'insufficient-quota',
      message: 'upstream stream error: insufficient quota',
      ...(error ? { error } : {}),
    };
  }
  return {
    kind: 'stream-error',
    message: 'upstream sent an error inside the stream',
    ...(error ? { error } : {}),
  };
}

export function abortedFailure(): UpstreamFailure {
  return { kind: 'aborted', message: 'client disconnected' };
}
