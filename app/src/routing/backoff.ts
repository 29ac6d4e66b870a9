/** Retry delays: exponential backoff with full jitter, and the upstream's Retry-After hints. */

export interface BackoffOptions {
  /** Delay ceiling for the first retry. */
  baseMs: number;
  /** Upper bound for any computed delay. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 8_000 };

/**
 * Full jitter (AWS architecture blog "Exponential Backoff And Jitter"): a uniform delay in
 * [0, min(cap, base * 2^retry)). Spreads retries from many clients better than equal jitter.
 * `retry` is 0 for the first retry.
 */
export function backoffDelay(
  retry: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.min(Math.max(0, retry), 30);
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** exp);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}
