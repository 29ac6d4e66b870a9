import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { RelayError } from '../errors.ts';
import type { Refusal } from '../routing/breaker-plan.ts';
import type { FailoverStop } from '../routing/failover.ts';
import type { UpstreamFailure } from '../core/failure.ts';
import { isRefusalStatus } from '../routing/failure.ts';

/**
 * What the client hears when no channel could answer. The relay's own trouble (its provider
 * key rejected, its provider account empty) is a 502, never the client's 401 or 429, and an
 * upstream's auth message is never echoed: it can quote part of the provider key.
 */
export function clientErrorFor(
  reason: FailoverStop,
  failure: UpstreamFailure | undefined,
  retryAfterMs?: number,
  refused?: Refusal,
): RelayError {
  const retryAfter = (ms: number | undefined) =>
    ms === undefined
      ? {}
      : { headers: { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) } };
  if (reason === 'aborted')
    return new RelayError(
      499 as ContentfulStatusCode,
      'client_closed_request',
      'Client closed the request.',
    );
  if (reason === 'no-channel') {
    if (refused === 'not-served') {
      // Every channel said it lacks the model; the breaker only remembers that for a while.
      return new RelayError(404, 'model_not_found', 'No upstream serves this model.', {
        param: 'model',
      });
    }
    return new RelayError(503, 'channels_unavailable', NO_CHANNEL[refused ?? 'model'], {
      type: 'upstream_error',
      ...retryAfter(retryAfterMs),
    });
  }
  if (reason === 'client-error' && failure?.status !== undefined) {
    const e = failure.error;
    return new RelayError(
      failure.status as ContentfulStatusCode,
      e?.code ?? 'invalid_request_error',
      e?.message ?? `Upstream rejected the request (HTTP ${failure.status}).`,
      {
        type: 'invalid_request_error',
        param: e?.param ?? null,
      },
    );
  }
  // Out of time is a timeout, whatever an earlier channel said before the last one went quiet.
  if (reason === 'budget' || !failure) {
    return new RelayError(504, 'upstream_timeout', 'No upstream answered within the time budget.');
  }
  const said = failure.error?.message ? `: ${failure.error.message}` : '';
  // After content the upstream was reached and answered: what broke is this one stream.
  if (reason === 'committed' && (failure.kind === 'connect' || failure.kind === 'timeout-idle')) {
    const cause =
      failure.kind === 'connect' ? 'its connection closed before the end' : 'it went silent';
    return new RelayError(
      failure.kind === 'connect' ? 502 : 504,
      'stream_interrupted',
      `The upstream stream was interrupted (${cause}); the answer is incomplete.`,
    );
  }
  switch (failure.kind) {
    case 'timeout-connect':
    case 'timeout-first-byte':
    case 'timeout-idle':
      return new RelayError(504, 'upstream_timeout', `Upstream timed out (${failure.message}).`);
    case 'connect':
      return new RelayError(
        502,
        'upstream_unreachable',
        `Upstream unreachable or the connection dropped (${failure.message}).`,
      );
    case 'auth':
      // The key, not the model: it fails for every model on the channel.
      return new RelayError(
        502,
        'upstream_auth_failed',
        "Upstream rejected the relay's credentials. The operator needs to check the channel's key.",
      );
    case 'insufficient-quota':
      return new RelayError(
        502,
        'upstream_quota_exhausted',
        "The relay's upstream account for this model is out of quota. The operator needs to top it up.",
      );
    case 'model':
      return new RelayError(404, 'model_not_found', `No upstream serves this model${said}.`, {
        param: 'model',
      });
    case 'malformed':
      return new RelayError(
        502,
        'upstream_malformed_response',
        `Upstream answered with something that is not the wire format its channel speaks (${failure.message}).`,
      );
    case 'stream-error':
      // A throttle or an overload the upstream named stays one: Anthropic clients tell
      // rate_limit_error and overloaded_error (retry later) from api_error by the status.
      if (failure.error?.type === 'rate_limit_error')
        return new RelayError(429, 'rate_limit_exceeded', `Upstream is rate limiting${said}.`);
      if (failure.error?.type === 'overloaded_error')
        return new RelayError(
          529 as ContentfulStatusCode,
          'upstream_overloaded',
          `Upstream is overloaded${said}.`,
          { type: 'upstream_error' },
        );
      return new RelayError(502, 'upstream_error', `Upstream failed mid-stream${said}.`);
    case 'aborted':
      return new RelayError(
        499 as ContentfulStatusCode,
        'client_closed_request',
        'Client closed the request.',
      );
    case 'http-status':
      if (failure.status === 429) {
        return new RelayError(
          429,
          'rate_limit_exceeded',
          `Upstream is rate limiting${said}.`,
          retryAfter(failure.retryAfterMs),
        );
      }
      // A refusal's text may quote the account or the key it refused: never echoed.
      if (failure.status !== undefined && isRefusalStatus(failure.status)) {
        return new RelayError(
          502,
          'upstream_error',
          `Upstream refused the request (HTTP ${failure.status}).`,
        );
      }
      return new RelayError(
        502,
        'upstream_error',
        `Upstream failed with HTTP ${failure.status ?? '?'}${said}.`,
      );
  }
}

/** The 503's text: a model cooling down is not the same news as channels whose keys are dead. */
const NO_CHANNEL: Record<Exclude<Refusal, 'not-served'>, string> = {
  model:
    'This model failed repeatedly on every channel that serves it and is cooling down. Try again after Retry-After.',
  channel:
    'Every channel that serves this model is failing, and each is already being tried by another request. Try again after Retry-After.',
  dead: "Every channel that serves this model has its upstream key or account rejected. The operator needs to check the channels' keys.",
};
