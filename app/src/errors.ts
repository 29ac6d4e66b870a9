import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { answer } from './middleware/reply-headers.ts';
import type { AppEnv } from './types.ts';

/** The OpenAI error `type` values clients switch on. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'server_error';

export interface RelayErrorOptions {
  readonly type?: ErrorType;
  readonly param?: string | null;
  readonly cause?: unknown;
  /** Extra response headers, e.g. Retry-After on a 429. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** False under --frozen-intrinsics, where setting it would throw. */
const STACK_LIMIT_WRITABLE =
  Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * The one error type the relay throws on purpose. `app.onError` turns it into the
 * contract's body; anything else reaching onError is a bug and becomes a 500.
 */
export class RelayError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: RelayErrorOptions = {},
  ) {
    // Without a stack: a RelayError is an answer the relay meant to give, and its code says where
    // it came from (a bug's error, wrapped by toRelayError, keeps its own as the cause). Capturing
    // one walks the optimized frames: ~25 thousand instructions, an eighth of a refused request.
    // Nothing between the two settings may throw: the cause is read before.
    const init = options.cause === undefined ? undefined : { cause: options.cause };
    const limit = Error.stackTraceLimit;
    if (STACK_LIMIT_WRITABLE) Error.stackTraceLimit = 0;
    super(message, init);
    if (STACK_LIMIT_WRITABLE) Error.stackTraceLimit = limit;
    this.name = 'RelayError';
    this.status = status;
    this.code = code;
    this.type = options.type ?? defaultType(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return status === 500 ? 'server_error' : 'upstream_error';
  return 'invalid_request_error';
}

export const invalidRequest = (
  message: string,
  param: string | null = null,
  code = 'invalid_request_error',
) => new RelayError(400, code, message, { param });

/** Normalises anything thrown into a RelayError; unknown errors are bugs, so they stay opaque. */
export function toRelayError(err: unknown): RelayError {
  if (err instanceof RelayError) return err;
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    if (status === 413) {
      return new RelayError(413, 'request_too_large', 'Request body is too large.');
    }
    if (status === 415) {
      // Hono's JSON validator, for any other Content-Type: say what is required.
      return new RelayError(
        415,
        'unsupported_media_type',
        "The body must be JSON, sent with 'Content-Type: application/json'.",
      );
    }
    return new RelayError(
      status,
      status === 400 ? 'invalid_request_error' : 'http_error',
      err.message || 'Bad request.',
    );
  }
  return new RelayError(
    500,
    'server_error',
    'The relay hit an unexpected error. It has been logged.',
    {
      cause: err,
    },
  );
}

/**
 * The JSON error response in the caller's dialect (set by the dialect middleware before
 * anything can fail), with the request id in body and header alike. Its headers are the
 * error's own and the relay's (addReplyHeaders); one a handler set with `c.header()` before it
 * failed is not sent.
 */
export function errorResponse(c: Context<AppEnv>, err: RelayError): Response {
  const requestId = c.get('requestId') ?? 'unknown';
  const body = JSON.stringify(c.get('dialect').errorBody(err, requestId));
  // With the relay's headers in one plain object, as a route's answer: `c.json` made a Web
  // `Headers` for it, the edge then set the relay's headers on that one by one, and the adapter
  // copied them all out again (~20 thousand instructions of a refused request's ~195).
  return answer(c, body, err.status, { ...err.headers, 'content-type': 'application/json' });
}
