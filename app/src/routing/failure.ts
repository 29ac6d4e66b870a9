import type { UpstreamFailure } from '../core/failure.ts';

/** Statuses worth asking again: timeouts, conflicts, rate limits and server faults. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * A 403 the adapter could not read as a dead key or a missing model: this channel refuses this
 * request (a region, a moderation flag, an account policy). Another channel may not, so the
 * request fails over; the channel's key is not blamed.
 */
export function isRefusalStatus(status: number): boolean {
  return status === 403;
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
      if (failure.status !== undefined && isRetryableStatus(failure.status))
        return { retrySameChannel: true, failover: true };
      if (failure.status !== undefined && isRefusalStatus(failure.status))
        return { retrySameChannel: false, failover: true };
      // The request itself is wrong: every channel would say the same, and the channel is
      // healthy, so the client gets the answer as is.
      return { retrySameChannel: false, failover: false };
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
