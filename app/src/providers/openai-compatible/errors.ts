import type { UpstreamErrorBody, UpstreamFailure } from '../../core/failure.ts';
import { boundedMessage, classifyStatus } from '../../core/failure.ts';
import type { HttpFailureInput } from '../types.ts';
import { parseRetryAfter } from '../../core/retry-after.ts';

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

/** Reads `{"error":{…}}` (or a bare `{"message":…}`) from an upstream body; tolerant of junk. */
export function parseOpenAiErrorBody(text: string | undefined): UpstreamErrorBody | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return openAiErrorFromObject(parsed);
}

export function openAiErrorFromObject(parsed: unknown): UpstreamErrorBody | undefined {
  // Gemini's OpenAI endpoint wraps its error in a one-element array.
  if (Array.isArray(parsed))
    return parsed.length > 0 ? openAiErrorFromObject(parsed[0]) : undefined;
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
    message: boundedMessage(message),
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
 * Codes (or types) with which OpenAI-compatible providers say the key itself is bad, whatever
 * the status: OpenAI's invalid_api_key, Moonshot's invalid_authentication_error, DashScope's
 * InvalidApiKey. Only structured fields: a message can echo what the client sent.
 */
const KEY_CODES = new Set([
  'invalid_api_key',
  'incorrect_api_key',
  'invalid_authentication',
  'invalid_authentication_error',
  'authentication_error',
  'InvalidApiKey',
]);
/**
 * Gemini answers a bad key with a 400 (a suspended one with a 403 whose message quotes the
 * key); only its structured `reason` is trusted, because an error message often echoes what
 * the client sent ("Invalid value: '<your role>'"), and a client must never be able to make
 * the relay think its provider key is dead.
 */
const KEY_REASONS = new Set(['API_KEY_INVALID', 'CONSUMER_SUSPENDED']);
function saysKeyInvalid(bodyText: string | undefined): boolean {
  if (!bodyText || ![...KEY_REASONS].some((r) => bodyText.includes(r))) return false;
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    const outer = (Array.isArray(parsed) ? parsed[0] : parsed) as
      { error?: { details?: unknown } } | undefined;
    const details = outer?.error?.details;
    return (
      Array.isArray(details) &&
      details.some((d: { reason?: unknown }) => KEY_REASONS.has(d?.reason as string))
    );
  } catch {
    return false;
  }
}
const MODEL_CODES = new Set(['model_not_found', 'model_not_available', 'invalid_model']);
/** Anchored at the start: a message that merely contains these words may be echoed client input. */
const MODEL_TEXT =
  /^(the )?model\b[^.]{0,200}?\b(does not exist|not exist|not found|not supported|unsupported|is not available)/i;

/**
 * Classifies a non-2xx answer of an OpenAI-compatible upstream. 429 is a rate limit unless its
 * code says the quota is gone (OpenAI's insufficient_quota); 403 talks about billing at some
 * providers for unpaid accounts, and about a model the project may not use at OpenAI
 * (`model_not_found`); a plain 400 is about the client's request and must reach the client,
 * so it counts as a model failure only with a model code or wording.
 */
export function classifyOpenAiFailure(input: HttpFailureInput): UpstreamFailure {
  const { status } = input;
  const error = parseOpenAiErrorBody(input.bodyText);
  const code = error?.code ?? error?.type ?? '';
  const quotaCode = QUOTA_CODES.has(code) || QUOTA_CODES.has(error?.type ?? '');
  return classifyStatus({
    status,
    error,
    retryAfterMs: parseRetryAfter(input.headers, input.now),
    quota:
      (status === 429 && quotaCode) ||
      (status === 403 && (quotaCode || BILLING_TEXT.test(error?.message ?? ''))),
    keyInvalid:
      KEY_CODES.has(code) || KEY_CODES.has(error?.type ?? '') || saysKeyInvalid(input.bodyText),
    model: MODEL_CODES.has(code) || MODEL_TEXT.test(error?.message ?? ''),
  });
}

/** An `{"error":…}` object found inside a 200 event stream. */
export function classifyOpenAiStreamError(payload: unknown): UpstreamFailure {
  const error = openAiErrorFromObject(payload);
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
