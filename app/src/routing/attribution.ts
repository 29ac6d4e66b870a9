import type { UpstreamFailure } from '../core/failure.ts';
import { isRefusalStatus, isRetryableStatus } from './failure.ts';

/**
 * Which circuit a failed attempt counts against:
 * - none: nothing is wrong with the channel (the client's own mistake, or the client left);
 * - connection: no connection could be made (refused, DNS, TLS, connect timeout): the whole
 *   channel, and a fast trigger, since every model behind it is equally cut off;
 * - dead: the channel's key or account is rejected: the whole channel, until a probe passes;
 * - model: the channel answered, or took the connection, and this model's call went wrong (an
 *   error status, silence, nonsense, a reset, a stream that broke): the channel+model circuit.
 *   A channel failing this way for several models is opened as a whole by the breaker (see
 *   modelsToOpenChannel).
 */
export type BreakerTarget = 'none' | 'connection' | 'dead' | 'model';

export type AttributedFailure = Pick<
  UpstreamFailure,
  'kind' | 'status' | 'midResponse' | 'reached'
>;

/**
 * `committed`: content had already gone to the client. A connection that drops then (or after
 * the response started) broke one answer of one model, which says nothing about whether the
 * channel can be reached: one flaky model must not take its whole provider down.
 */
export function attributeFailure(failure: AttributedFailure, committed: boolean): BreakerTarget {
  switch (failure.kind) {
    case 'aborted':
      return 'none';
    case 'connect':
      return committed || failure.midResponse === true || failure.reached === true
        ? 'model'
        : 'connection';
    case 'timeout-connect':
      return 'connection';
    case 'auth':
    case 'insufficient-quota':
      return 'dead';
    case 'http-status': {
      // A client error: the request itself is wrong, every channel would say the same, and this
      // one answered. A refusal (403) is this channel's, for this model.
      const s = failure.status;
      return s !== undefined && (isRetryableStatus(s) || isRefusalStatus(s)) ? 'model' : 'none';
    }
    case 'timeout-first-byte':
    case 'timeout-idle':
    case 'malformed':
    case 'stream-error':
    case 'model':
      return 'model';
  }
}
