import { UpstreamError } from '../core/failure.ts';
import type { FailureKind, UpstreamFailure } from '../core/failure.ts';

/**
 * The timers around one upstream call: one armed at a time (first byte, then idle between
 * chunks), each aborting the call with its own failure; the caller's signal (client disconnect,
 * failover budget) aborts it too. Our own timers, since transports' own run on coarse clocks.
 */
export class Watchdog {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The timeout that fired, if one did. */
  timedOut: UpstreamFailure | undefined;

  constructor(outer: AbortSignal | undefined) {
    this.#outer = outer;
    outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  readonly #onOuterAbort = (): void => this.#controller.abort(this.#outer?.reason);

  // Arrow fields: callers pass these on as plain functions.
  readonly arm = (kind: FailureKind, ms: number, message: string): void => {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.timedOut = { kind, message };
      this.#controller.abort(new UpstreamError(this.timedOut));
    }, ms);
  };

  readonly disarm = (): void => clearTimeout(this.#timer);

  /** The call is over: no timer, no listener left on the caller's signal. */
  readonly finish = (): void => {
    this.disarm();
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  };

  readonly abort = (): void => this.#controller.abort();
}
