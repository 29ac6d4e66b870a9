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
 * Every request a key makes counts, refused ones included, as OpenAI counts them. In memory,
 * because the relay is one process; a restart forgets at most a minute.
 */
export function rateLimit(now: () => number): MiddlewareHandler<AppEnv> {
  const windows = new Map<number, Window>();
  return async (c, next) => {
    const key = c.get('key');
    if (key.rpm === null || c.req.method !== 'POST') return next();
    const rpm = key.rpm;
    const t = now();
    let w = windows.get(key.id);
    if (!w) {
      w = { start: t, count: 0, previous: 0 };
      windows.set(key.id, w);
    }
    const elapsed = t - w.start;
    if (elapsed >= WINDOW_MS) {
      const skipped = elapsed >= 2 * WINDOW_MS;
      w.previous = skipped ? 0 : w.count;
      w.start = skipped ? t : w.start + WINDOW_MS;
      w.count = 0;
    }
    const used = w.previous * (1 - (t - w.start) / WINDOW_MS) + w.count;
    c.header('x-ratelimit-limit-requests', String(rpm));
    if (used + 1 > rpm) {
      const seconds = Math.max(1, Math.ceil(waitMs(w, t, rpm) / 1000));
      throw new RelayError(
        429,
        'rate_limit_exceeded',
        `Rate limit reached for key "${key.name}": ${rpm} requests per minute. Try again in ${seconds}s.`,
        {
          headers: {
            'retry-after': String(seconds),
            'x-ratelimit-limit-requests': String(rpm),
            'x-ratelimit-remaining-requests': '0',
            'x-ratelimit-reset-requests': `${seconds}s`,
          },
        },
      );
    }
    w.count++;
    c.header('x-ratelimit-remaining-requests', String(Math.max(0, Math.floor(rpm - used - 1))));
    return next();
  };
}

/**
 * When one more request will fit: either later in this window, as the previous minute slides
 * out, or in the next one, where this window's count becomes the one sliding out.
 */
function waitMs(w: Window, t: number, rpm: number): number {
  const room = rpm - 1;
  if (w.count <= room && w.previous > 0) {
    return Math.max(0, w.start + WINDOW_MS * (1 - (room - w.count) / w.previous) - t);
  }
  const intoNext = w.count > 0 ? WINDOW_MS * Math.max(0, 1 - room / w.count) : 0;
  return Math.max(0, w.start + WINDOW_MS + intoNext - t);
}
