/**
 * Gemini's errors (`{"error":{"code":…,"message":…,"status":"INVALID_ARGUMENT","details":[…]}}`)
 * in the relay's failure taxonomy. The structured `reason` of an ErrorInfo detail says what the
 * status does not: Gemini answers a bad key with a 400 API_KEY_INVALID, which must mark the key
 * dead. A 403 PERMISSION_DENIED with no such reason is about what this key may use — a model
 * (a tuned model of another project, a preview it was not let into) — so it counts against the
 * model, never the key. 429 RESOURCE_EXHAUSTED is a rate limit (retried, with the RetryInfo
 * delay when no Retry-After came); 503 UNAVAILABLE is an overloaded model (retried, then fail
 * over). Messages are never trusted for the key: they echo what the client sent.
 */
import type { UpstreamErrorBody, UpstreamFailure } from '../../core/failure.ts';
import { boundedMessage, classifyStatus } from '../../core/failure.ts';
import { parseRetryAfter } from '../../core/retry-after.ts';
import { isObject, objects, str } from '../../core/json.ts';
import type { HttpFailureInput } from '../types.ts';

/** Reasons that say the key (or its project) cannot use the API at all, for any model. */
const DEAD_KEY_REASONS = new Set([
  'API_KEY_INVALID',
  'API_KEY_EXPIRED',
  'CONSUMER_SUSPENDED',
  'SERVICE_DISABLED',
  'API_KEY_SERVICE_BLOCKED',
]);

interface GoogleError {
  readonly error: UpstreamErrorBody;
  readonly reasons: readonly string[];
  readonly retryDelayMs?: number;
}

/** "37s" or "1.5s", Google's Duration in JSON. */
function durationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** The `error` object of a Google error body (Gemini's OpenAI endpoint wraps it in an array). */
export function readGoogleError(parsed: unknown): GoogleError | undefined {
  const outer = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!isObject(outer) || !isObject(outer.error)) return undefined;
  const e = outer.error;
  const details = objects(e.details);
  const status = str(e.status) || null;
  const retry = details.find((d) => str(d['@type']).endsWith('google.rpc.RetryInfo'));
  const delay = retry ? durationMs(str(retry.retryDelay)) : undefined;
  return {
    error: {
      message: boundedMessage(str(e.message) || `Gemini error ${str(e.code)}`),
      type: status,
      code: status,
      param: null,
    },
    reasons: details.map((d) => str(d.reason)).filter(Boolean),
    ...(delay !== undefined && { retryDelayMs: delay }),
  };
}

function parseGoogleError(text: string | undefined): GoogleError | undefined {
  if (!text) return undefined;
  try {
    return readGoogleError(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export function classifyGeminiFailure(input: HttpFailureInput): UpstreamFailure {
  const parsed = parseGoogleError(input.bodyText);
  const deadKey = parsed?.reasons.some((r) => DEAD_KEY_REASONS.has(r)) ?? false;
  return classifyStatus({
    status: input.status,
    error: parsed?.error,
    retryAfterMs: parseRetryAfter(input.headers, input.now) ?? parsed?.retryDelayMs,
    keyInvalid: deadKey,
    model: !deadKey && input.status === 403,
  });
}

/** An error object inside a 200 stream, or in place of a 200 answer: this answer broke. */
export function classifyGeminiErrorEvent(
  payload: unknown,
  where: 'stream' | 'body' = 'stream',
): UpstreamFailure {
  const parsed = readGoogleError(payload);
  return {
    kind: 'stream-error',
    message: `upstream sent an error inside the ${where}${parsed?.error.type ? ` (${parsed.error.type})` : ''}`,
    ...(parsed && { error: parsed.error }),
  };
}
