/**
 * Anthropic's errors (`{"type":"error","error":{"type":…,"message":…},"request_id":…}`) in the
 * relay's failure taxonomy. The error type says more than the status: a spent balance arrives
 * as a 400 invalid_request_error ("Your credit balance is too low…"), and a key Anthropic
 * refuses must mark the channel dead whatever status carries it.
 */
import type { UpstreamErrorBody, UpstreamFailure } from '../../core/failure.ts';
import { boundedMessage, classifyStatus } from '../../core/failure.ts';
import { parseRetryAfter } from '../../core/retry-after.ts';
import type { HttpFailureInput } from '../types.ts';

/** The `error` object of an Anthropic error body (or of an `event: error`), or undefined. */
export function anthropicErrorFromObject(parsed: unknown): UpstreamErrorBody | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const outer = parsed as Record<string, unknown>;
  const inner =
    typeof outer.error === 'object' && outer.error !== null
      ? (outer.error as Record<string, unknown>)
      : outer;
  if (typeof inner.message !== 'string') return undefined;
  const type = typeof inner.type === 'string' ? inner.type : null;
  return { message: boundedMessage(inner.message), type, code: type, param: null };
}

export function parseAnthropicErrorBody(text: string | undefined): UpstreamErrorBody | undefined {
  if (!text) return undefined;
  try {
    return anthropicErrorFromObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * The account cannot pay: the channel is out, not the request. Only Anthropic's own wording,
 * so a validation message echoing the client's text cannot mark a channel dead.
 */
const BILLING_TEXT = /^your credit balance is too low/i;
/**
 * Anthropic names an unknown model as a field error (`model: claude-…`), anchored at the start:
 * a message that merely mentions "model" may be echoing the client's own input.
 */
const MODEL_TEXT = /^model:\s/i;

const saysBilling = (error: UpstreamErrorBody | undefined) =>
  error?.type === 'billing_error' || BILLING_TEXT.test(error?.message ?? '');

/**
 * A non-2xx Anthropic answer: authentication_error → auth (the channel's key), not_found_error
 * → model, billing → insufficient-quota, rate_limit_error (429) and overloaded_error (529) →
 * retryable statuses with the upstream's retry-after; any other invalid_request_error is about
 * the client's request and reaches the client. A permission_error (403) says this key may not
 * use this resource, not that the key is dead: classifyStatus decides (a model, or a refusal
 * of this request that another channel may not share).
 */
export function classifyAnthropicFailure(input: HttpFailureInput): UpstreamFailure {
  const error = parseAnthropicErrorBody(input.bodyText);
  return classifyStatus({
    status: input.status,
    error,
    retryAfterMs: parseRetryAfter(input.headers, input.now),
    quota: saysBilling(error),
    keyInvalid: error?.type === 'authentication_error',
    model: error?.type === 'not_found_error' || MODEL_TEXT.test(error?.message ?? ''),
  });
}

/**
 * An `event: error` inside a 200 stream (overloaded_error is the usual one), or an error object
 * in a 200 body: the answer broke, so the attempt fails over; only a billing error says more
 * about the channel.
 */
export function classifyAnthropicErrorEvent(
  payload: unknown,
  where: 'stream' | 'body' = 'stream',
): UpstreamFailure {
  const error = anthropicErrorFromObject(payload);
  const detail = error ? { error } : {};
  if (saysBilling(error)) {
    return {
      kind: 'insufficient-quota',
      message: `upstream ${where} error: insufficient quota`,
      ...detail,
    };
  }
  return {
    kind: 'stream-error',
    message: `upstream sent an error inside the ${where}${error?.type ? ` (${error.type})` : ''}`,
    ...detail,
  };
}
