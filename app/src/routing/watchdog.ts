import { UpstreamError } from '../core/failure.ts';
import type { FailureKind, UpstreamFailure } from '../core/failure.ts';
import { follow, unfollow } from './cancel.ts';
import type { AbortSource } from './cancel.ts';

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
  /** Made on first read of `signal`: the relay's own HTTP client is told by `onAbort` instead. */
  #controller: AbortController | undefined;
  readonly #onAbort: ((reason: unknown) => void) | undefined;
  /** Set once the call is aborted, with why. */
  #aborted: { reason: unknown } | undefined;
  readonly #outer: AbortSource | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (performance.now() scale). */
  #timerAt = 0;
  /** When the armed limit runs out; Infinity while disarmed. */
  #deadline = Infinity;
  #kind: FailureKind = 'timeout-idle';
  #message = '';
  /** The timeout that fired, if one did. */
  timedOut: UpstreamFailure | undefined;

  /**
   * @param onAbort told once when the call is to stop (a limit ran out, or `outer` aborted), for
   * a transport that takes a callback rather than a signal: no AbortController then.
   */
  constructor(outer: AbortSource | undefined, onAbort?: (reason: unknown) => void) {
    this.#outer = outer;
    this.#onAbort = onAbort;
    follow(outer, this.#onOuterAbort);
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller.signal;
  }

  readonly #onOuterAbort = (): void => this.#abort(this.#outer?.reason);

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = { reason };
    this.#onAbort?.(reason);
    this.#controller?.abort(reason);
  }

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
    this.#abort(new UpstreamError(this.timedOut));
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
    unfollow(this.#outer, this.#onOuterAbort);
  }

  abort(): void {
    this.#abort(new DOMException('This operation was aborted', 'AbortError'));
  }
}
