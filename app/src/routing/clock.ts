/**
 * Time source for routing: breakers, backoff and heartbeats read time and wait only through a
 * Clock, so tests drive them with a manual clock instead of real waiting.
 */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` once after `ms` unless the returned function cancels it first: one timer, where
   * `sleep` with a signal costs a promise, an AbortController and its listener besides (per
   * request, on the hot path). Optional: `after()` below falls back to `sleep` without it.
   */
  after?(ms: number, fn: () => void): () => void;
}

/** One shared reason for cancelling a fallback sleep: a DOMException per cancel has a stack. */
const CANCELLED = new Error('timer cancelled');

/** `clock.after`, or the same built from `sleep` for clocks without it (test clocks). */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  if (clock.after) return clock.after(ms, fn);
  const controller = new AbortController();
  clock.sleep(ms, controller.signal).then(fn, () => {});
  return () => controller.abort(CANCELLED);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export const systemClock: Clock = {
  // Wall-clock time, because Retry-After HTTP-dates are compared against it.
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal as AbortSignal));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};
