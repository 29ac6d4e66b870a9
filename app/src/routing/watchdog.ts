import { UpstreamError } from '../core/failure.ts';
import type { FailureKind, UpstreamFailure } from '../core/failure.ts';

/**
 * The timers around one upstream call: one limit armed at a time (first byte, then idle between
 * chunks), each aborting the call with its own failure; the caller's signal (client disconnect,
 * failover budget) aborts it too. Our own timers, since transports' own run on coarse clocks.
 *
 * Arming moves a deadline; it does not restart a timer. A stream arms the idle limit before
 * every chunk, and a clearTimeout + setTimeout pair per chunk added up: instead one timer stays
 * pending, and when it fires early (the deadline moved on) it waits out the rest. Only a
 * deadline earlier than the pending timer (a shorter limit) starts a new one.
 */
export class Watchdog {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (performance.now() scale). */
  #timerAt = 0;
  /** When the armed limit runs out; Infinity while disarmed. */
  #deadline = Infinity;
  #kind: FailureKind = 'timeout-idle';
  #message = '';
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

  #start(ms: number, now: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = now + ms;
    this.#timer = setTimeout(this.#fire, ms);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    // Disarmed: the next arm starts a timer of its own.
    if (this.#deadline === Infinity) return;
    const now = performance.now();
    const left = this.#deadline - now;
    // Node's timers may fire a fraction of a millisecond before performance.now() says: that
    // much is not worth another timer.
    if (left >= 1) return this.#start(left, now);
    this.timedOut = { kind: this.#kind, message: this.#message };
    this.#controller.abort(new UpstreamError(this.timedOut));
  };

  // Methods, not arrow fields: every upstream call makes a watchdog, and only the two
  // callbacks above need a function of their own.
  arm(kind: FailureKind, ms: number, message: string): void {
    const now = performance.now();
    this.#deadline = now + ms;
    this.#kind = kind;
    this.#message = message;
    if (this.#timer === undefined || this.#timerAt > this.#deadline) this.#start(ms, now);
  }

  disarm(): void {
    this.#deadline = Infinity;
  }

  /** The call is over: no timer, no listener left on the caller's signal. */
  finish(): void {
    this.#deadline = Infinity;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  }

  abort(): void {
    this.#controller.abort();
  }
}
