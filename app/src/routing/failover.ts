import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import type { BreakerRegistry } from './breaker.ts';
import { planWithBreakers, type Refusal } from './breaker-plan.ts';
import { Cancel, follow, unfollow } from './cancel.ts';
import type { AbortSource } from './cancel.ts';
import { after } from './clock.ts';
import type { Clock } from './clock.ts';
import {
  abortedFailure,
  isUpstreamError,
  type FailureKind,
  type UpstreamFailure,
} from '../core/failure.ts';
import { failurePolicy } from './failure.ts';
import type { CandidateChannel } from './plan.ts';

export interface AttemptContext {
  /** 1-based across the whole request. */
  attemptNo: number;
  /** 1-based on this channel. */
  channelAttempt: number;
  /** Aborts on client disconnect, and when the time budget runs out before commit. */
  signal: Cancel;
  /** This request is the breaker's single half-open probe for the channel. */
  probe: boolean;
  /** This request passes an open channel circuit: nothing else was left (panic routing). */
  panic: boolean;
  /** Budget left in ms; Infinity once committed. Use it to shorten the first-byte timeout. */
  remainingMs(): number;
  /**
   * Call right before the first content byte goes to the client. From then on there is no
   * failover and no budget abort: a later failure is the caller's to end the stream with.
   */
  commit(): void;
}

export type AttemptResult<T> = { ok: true; value: T } | { ok: false; failure: UpstreamFailure };

export interface AttemptRecord {
  channel: string;
  attemptNo: number;
  channelAttempt: number;
  probe: boolean;
  panic: boolean;
  ok: boolean;
  failure?: { kind: FailureKind; status?: number };
}

export type FailoverEvent =
  | {
      type: 'attempt';
      channel: string;
      attemptNo: number;
      channelAttempt: number;
      probe: boolean;
      panic: boolean;
    }
  | { type: 'skip'; channel: string; retryAt: number }
  | {
      type: 'failure';
      channel: string;
      attemptNo: number;
      failure: UpstreamFailure;
      next: 'retry' | 'failover' | 'stop';
      delayMs?: number;
    }
  | { type: 'success'; channel: string; attemptNo: number };

/**
 * Why the runner gave up:
 * - client-error: the upstream rejected the request itself (400, 413, 422…): pass it on
 * - aborted: the client went away
 * - exhausted: every admitted channel failed (see `failure` for the last one)
 * - budget: maxTotalMs ran out before any content was sent
 * - no-channel: the model's own circuits (or dead keys) refuse on every channel, or each
 *   failing channel already has its one panic request in flight (see `retryAfterMs` and
 *   `refused`, and planWithBreakers)
 * - committed: content was already sent when the attempt failed; end the stream with an error
 */
export type FailoverStop =
  'client-error' | 'aborted' | 'exhausted' | 'budget' | 'no-channel' | 'committed';

export type FailoverResult<C, T> =
  | { ok: true; value: T; channel: C; committed: boolean; attempts: AttemptRecord[] }
  | {
      ok: false;
      reason: FailoverStop;
      failure?: UpstreamFailure;
      channel?: C;
      committed: boolean;
      attempts: AttemptRecord[];
      retryAfterMs?: number;
      /** With no-channel: why no channel was left. */
      refused?: Refusal;
    };

export interface FailoverOptions<C extends CandidateChannel, T> {
  candidates: readonly C[];
  /** The model, for channel+model breakers, when every candidate knows it by the same name. */
  model?: string;
  /**
   * The model as this candidate's upstream knows it (an alias resolved), for channel+model
   * breakers: two client names for one upstream model share its circuit. Default: `model`.
   */
  modelOf?: (candidate: C) => string | undefined;
  attempt: (channel: C, ctx: AttemptContext) => Promise<AttemptResult<T>>;
  maxAttemptsPerChannel: number;
  maxTotalMs: number;
  clock: Clock;
  breaker: BreakerRegistry;
  backoff?: BackoffOptions;
  /** A Retry-After longer than this is not waited for: the next channel is tried instead. */
  retryAfterCapMs?: number;
  random?: () => number;
  /** The client's disconnect. */
  signal?: AbortSource;
  onAttempt?: (event: FailoverEvent) => void;
}

export const DEFAULT_RETRY_AFTER_CAP_MS = 10_000;

class BudgetExceeded extends Error {
  constructor() {
    super('time budget for the request exhausted');
    this.name = 'BudgetExceeded';
  }
}

/**
 * Tries channels in plan order: retryable failures are retried on the same channel with
 * backoff (Retry-After when given, up to a cap), then the next channel is tried; client
 * errors and client aborts stop at once; every outcome is recorded on the breaker.
 * An attempt may throw UpstreamError instead of returning a failure; other throws are bugs
 * and propagate.
 */
export async function runWithFailover<C extends CandidateChannel, T>(
  options: FailoverOptions<C, T>,
): Promise<FailoverResult<C, T>> {
  const { clock, breaker } = options;
  const modelOf = options.modelOf ?? (() => options.model);
  const random = options.random ?? Math.random;
  const retryAfterCap = options.retryAfterCapMs ?? DEFAULT_RETRY_AFTER_CAP_MS;
  const maxPerChannel = Math.max(1, Math.floor(options.maxAttemptsPerChannel));
  const attempts: AttemptRecord[] = [];
  const deadline = clock.now() + options.maxTotalMs;
  const emit = (event: FailoverEvent): void => {
    // Observers log; a broken logger must not leave a breaker permit unsettled.
    try {
      options.onAttempt?.(event);
    } catch {
      /* ignored on purpose */
    }
  };

  if (options.signal?.aborted) return { ok: false, reason: 'aborted', committed: false, attempts };

  const cancel = new Cancel();
  let committed = false;
  let budgetExpired = false;
  const onClientAbort = (): void => cancel.abort(options.signal?.reason);
  follow(options.signal, onClientAbort);
  // One timer (clock.after), cancelled at commit or at the end: every request starts one.
  const cancelBudget = after(clock, options.maxTotalMs, () => {
    if (committed) return;
    budgetExpired = true;
    cancel.abort(new BudgetExceeded());
  });
  const clientAborted = (): boolean => options.signal?.aborted === true;
  const stop = (
    reason: FailoverStop,
    failure?: UpstreamFailure,
    channel?: C,
  ): Extract<FailoverResult<C, T>, { ok: false }> => ({
    ok: false,
    reason,
    committed,
    attempts,
    ...(failure ? { failure } : {}),
    ...(channel ? { channel } : {}),
  });

  try {
    const plan = planWithBreakers(options.candidates, {
      breaker,
      modelOf,
      now: clock.now(),
      random,
    });
    const order = plan.order;
    if (order.length === 0) {
      return {
        ...stop('no-channel'),
        ...(plan.retryAfterMs !== undefined && { retryAfterMs: plan.retryAfterMs }),
        ...(plan.refused !== undefined && { refused: plan.refused }),
      };
    }

    let lastFailure: UpstreamFailure | undefined;
    let lastChannel: C | undefined;
    let attemptNo = 0;
    /** The soonest refusal at acquire, for a request that never got to try a channel. */
    let refusal: { retryAt: number; refused: Refusal } | undefined;
    for (const channel of order) {
      for (let channelAttempt = 1; channelAttempt <= maxPerChannel; channelAttempt++) {
        if (clientAborted()) return stop('aborted', abortedFailure(), channel);
        if (budgetExpired) return stop('budget', lastFailure, lastChannel);
        const admission = breaker.acquire(channel.name, modelOf(channel), {
          panic: plan.panic.has(channel.name),
        });
        if (!admission.admitted) {
          emit({ type: 'skip', channel: channel.name, retryAt: admission.retryAt });
          if (!refusal || admission.retryAt < refusal.retryAt) refusal = admission;
          break;
        }
        const { permit } = admission;
        attemptNo++;
        lastChannel = channel;
        emit({
          type: 'attempt',
          channel: channel.name,
          attemptNo,
          channelAttempt,
          probe: permit.probe,
          panic: permit.panic,
        });
        const ctx: AttemptContext = {
          attemptNo,
          channelAttempt,
          signal: cancel,
          probe: permit.probe,
          panic: permit.panic,
          remainingMs: () => (committed ? Infinity : Math.max(0, deadline - clock.now())),
          commit: () => {
            committed = true;
            cancelBudget();
            permit.answered();
          },
        };
        let result: AttemptResult<T>;
        try {
          result = await options.attempt(channel, ctx);
        } catch (err) {
          if (isUpstreamError(err)) result = { ok: false, failure: err.failure };
          else if (cancel.aborted) result = { ok: false, failure: abortedFailure() };
          else {
            permit.release();
            throw err;
          }
        }
        const record: AttemptRecord = {
          channel: channel.name,
          attemptNo,
          channelAttempt,
          probe: permit.probe,
          panic: permit.panic,
          ok: result.ok,
        };
        attempts.push(record);

        if (result.ok) {
          permit.success();
          emit({ type: 'success', channel: channel.name, attemptNo });
          return { ok: true, value: result.value, channel, committed, attempts };
        }
        const failure = result.failure;
        record.failure = {
          kind: failure.kind,
          ...(failure.status !== undefined ? { status: failure.status } : {}),
        };
        // The client left: whatever the attempt saw is a consequence, not the channel's fault.
        if (clientAborted()) {
          permit.release();
          return stop('aborted', abortedFailure(), channel);
        }
        if (budgetExpired && !committed) {
          permit.release();
          emit({ type: 'failure', channel: channel.name, attemptNo, failure, next: 'stop' });
          // The attempt died of the budget's own abort: that says nothing about the channel.
          return stop(
            'budget',
            lastFailure ?? (failure.kind === 'aborted' ? undefined : failure),
            channel,
          );
        }
        permit.failure(failure, committed);
        lastFailure = failure;
        if (committed) {
          emit({ type: 'failure', channel: channel.name, attemptNo, failure, next: 'stop' });
          return stop('committed', failure, channel);
        }
        if (failure.kind === 'aborted') return stop('aborted', failure, channel);

        const policy = failurePolicy(failure);
        if (!policy.failover && !policy.retrySameChannel) {
          emit({ type: 'failure', channel: channel.name, attemptNo, failure, next: 'stop' });
          return stop('client-error', failure, channel);
        }
        const delayMs = retryDelay(failure, channelAttempt, policy.retrySameChannel);
        const canRetry =
          !permit.singleTry &&
          channelAttempt < maxPerChannel &&
          delayMs !== undefined &&
          clock.now() + delayMs < deadline;
        emit({
          type: 'failure',
          channel: channel.name,
          attemptNo,
          failure,
          next: canRetry ? 'retry' : 'failover',
          ...(canRetry ? { delayMs } : {}),
        });
        if (!canRetry) break;
        try {
          if (delayMs > 0) await clock.sleep(delayMs, cancel.signal);
        } catch {
          if (clientAborted()) return stop('aborted', abortedFailure(), channel);
          return stop('budget', lastFailure, channel);
        }
      }
    }
    if (attemptNo === 0 && refusal) {
      return {
        ...stop('no-channel'),
        retryAfterMs: Math.max(0, refusal.retryAt - clock.now()),
        refused: refusal.refused,
      };
    }
    return stop('exhausted', lastFailure, lastChannel);
  } finally {
    cancelBudget();
    unfollow(options.signal, onClientAbort);
  }

  function retryDelay(
    failure: UpstreamFailure,
    channelAttempt: number,
    retryable: boolean,
  ): number | undefined {
    if (!retryable) return undefined;
    if (failure.retryAfterMs !== undefined) {
      // Retrying sooner than asked just earns another 429; a long wait is better spent elsewhere.
      return failure.retryAfterMs <= retryAfterCap ? failure.retryAfterMs : undefined;
    }
    return backoffDelay(channelAttempt - 1, options.backoff ?? DEFAULT_BACKOFF, random);
  }
}
