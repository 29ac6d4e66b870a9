import type { MiddlewareHandler } from 'hono';
import { RelayError } from '../errors.ts';
import type { AppEnv } from '../types.ts';

const WINDOW_MS = 60_000;

interface Window {
  start: number;
  count: number;
  previous: number;
}

/**
 * Requests per minute per key, as a sliding window (the previous minute's count weighted by how
 * much of it still overlaps): no burst of 2× at a minute boundary, O(1) memory per key.
 * In memory, because the relay is one process; a restart forgets at most a minute.
 */
export function rateLimit(now: () => number): MiddlewareHandler<AppEnv> {
  const windows = new Map<number, Window>();
  return async (c, next) => {
    const key = c.get('key');
    if (key.rpm === null || c.req.method !== 'POST') return next();
    const t = now();
    let w = windows.get(key.id);
    if (!w) {
      w = { start: t, count: 0, previous: 0 };
      windows.set(key.id, w);
    }
    const elapsed = t - w.start;
    if (elapsed >= WINDOW_MS) {
      w.previous = elapsed >= 2 * WINDOW_MS ? 0 : w.count;
      w.start = elapsed >= 2 * WINDOW_MS ? t : w.start + WINDOW_MS;
      w.count = 0;
    }
    const overlap = 1 - (t - w.start) / WINDOW_MS;
    const used = w.previous * overlap + w.count;
    c.header('x-ratelimit-limit-requests', String(key.rpm));
    if (used + 1 > key.rpm) {
      // Time until enough of the previous window has slid out to admit one more request.
      const waitMs =
        w.previous > 0
          ? Math.ceil(((used + 1 - key.rpm) / w.previous) * WINDOW_MS)
          : WINDOW_MS - (t - w.start);
      const seconds = Math.max(1, Math.ceil(Math.min(waitMs, WINDOW_MS) / 1000));
      throw new RelayError(
        429,
        'rate_limit_exceeded',
        `Rate limit reached for key "${key.name}": ${key.rpm} requests per minute. Try again in ${seconds}s.`,
        {
          headers: { 'retry-after': String(seconds), 'x-ratelimit-remaining-requests': '0' },
        },
      );
    }
    w.count++;
    c.header('x-ratelimit-remaining-requests', String(Math.max(0, Math.floor(key.rpm - used - 1))));
    return next();
  };
}
