/**
 * Bedrock's errors in the relay's failure taxonomy. The transport turns an SDK exception into an
 * answer `{"__type": name, "message": …}` with the exception's HTTP status, so classification
 * reads one shape whether the SDK threw before the answer or inside a stream. The exception's
 * name says more than its status: Bedrock sends ModelNotReadyException as a 429 and a model that
 * was never enabled as a 403 AccessDeniedException, neither of which is what the status alone
 * would mean to the relay.
 */
import type { UpstreamErrorBody, UpstreamFailure } from '../../core/failure.ts';
import { boundedMessage, classifyStatus } from '../../core/failure.ts';
import { parseRetryAfter } from '../../core/retry-after.ts';
import type { HttpFailureInput } from '../types.ts';

export interface BedrockErrorBody {
  readonly name: string;
  readonly message: string;
  /** The model the call named (the transport adds it), for a message the operator can act on. */
  readonly modelId?: string;
}

export function parseBedrockError(text: string | undefined): BedrockErrorBody | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const name = typeof parsed.__type === 'string' ? parsed.__type.split('#').at(-1)! : '';
    const message = typeof parsed.message === 'string' ? parsed.message : '';
    const modelId = typeof parsed.modelId === 'string' ? parsed.modelId : undefined;
    return name || message ? { name, message, ...(modelId && { modelId }) } : undefined;
  } catch {
    return undefined;
  }
}

/** The status the relay acts on for each exception Bedrock Runtime documents. */
const STATUS_OF: Readonly<Record<string, number>> = {
  ThrottlingException: 429,
  // Bedrock's own quota, not money: a rate limit the next minute lifts.
  ServiceQuotaExceededException: 429,
  // Documented as 429, but it means "not loaded yet": a 503 fails over like an outage does.
  ModelNotReadyException: 503,
  ServiceUnavailableException: 503,
  InternalServerException: 500,
  // The model itself failed (424 upstream): the request may well work elsewhere.
  ModelErrorException: 502,
  ModelStreamErrorException: 502,
  ModelTimeoutException: 408,
  ResourceNotFoundException: 404,
  ValidationException: 400,
  AccessDeniedException: 403,
};

/** Credentials AWS refused outright: every model on the channel fails the same way. */
const CREDENTIALS_REFUSED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidClientTokenId',
]);

/**
 * A ValidationException that names the model, not the request: the channel is configured with
 * an id Bedrock does not know, or one that needs an inference profile in this region.
 */
const MODEL_TEXT =
  /^(the provided model identifier is invalid|invocation of model id .* with on-demand throughput isn.t supported)/i;

const errorBody = (e: BedrockErrorBody, type: string, message = e.message): UpstreamErrorBody => ({
  message: boundedMessage(message),
  type,
  code: type,
  param: null,
});

/**
 * AccessDenied's own text names the role and account ("User: arn:aws:sts::… is not authorized
 * to perform bedrock:InvokeModel on resource …"): never passed on. The failure says instead what
 * the operator has to fix, and stays a 403 refusal (the channel fails over, the client hears a
 * 502), never a missing model: the model exists, this account just may not call it.
 */
function accessDenied(model: string | undefined): UpstreamFailure {
  const which = model ? `model ${model}` : 'this model';
  return {
    kind: 'http-status',
    status: 403,
    message:
      `bedrock AccessDeniedException: the relay's AWS role may not invoke ${which}; ` +
      'enable access to it under Bedrock → Model access in this region (and every region its ' +
      'inference profile routes to) and allow bedrock:InvokeModel* and bedrock:Converse* on it',
  };
}

export function classifyBedrockError(
  e: BedrockErrorBody | undefined,
  status: number,
  retryAfterMs?: number,
): UpstreamFailure {
  if (e?.name === 'AccessDeniedException') return accessDenied(e.modelId);
  if (e && CREDENTIALS_REFUSED.has(e.name))
    return classifyStatus({ status: 403, keyInvalid: true });
  const mapped = (e && STATUS_OF[e.name]) ?? status;
  const isModel = mapped === 404 || (mapped === 400 && MODEL_TEXT.test(e?.message ?? ''));
  const type = mapped === 400 ? 'invalid_request_error' : (e?.name ?? 'upstream_error');
  const failure = classifyStatus({
    status: isModel ? 404 : mapped,
    ...(e && { error: errorBody(e, type) }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  });
  return e?.name ? { ...failure, message: `${failure.message} (bedrock ${e.name})` } : failure;
}

/** A non-2xx answer from the transport (or, in tests, from a Bedrock-shaped HTTP upstream). */
export function classifyBedrockFailure(input: HttpFailureInput): UpstreamFailure {
  const e = parseBedrockError(input.bodyText);
  return classifyBedrockError(e, input.status, parseRetryAfter(input.headers, input.now));
}

/** An exception event inside a 200 stream: this answer broke; the channel may serve the next. */
export function classifyBedrockStreamError(e: BedrockErrorBody | undefined): UpstreamFailure {
  const name = e?.name ?? 'unknown';
  return {
    kind: 'stream-error',
    message: `upstream sent an error inside the stream (bedrock ${name})`,
    ...(e && { error: errorBody(e, name) }),
  };
}
