import type { MiddlewareHandler } from 'hono';
import { RelayError } from '../errors.ts';
import { memoryRateWindows } from '../ratelimit/window.ts';
import type { RateWindows } from '../ratelimit/window.ts';
import type { AppEnv } from '../types.ts';

/**
 * Requests per minute per key (ratelimit/window.ts has the sliding-window rule). The counters
 * live in memory for one process; cluster workers pass windows they all share, or each would
 * let rpm through and the key would get workers × rpm. Keys without a limit touch neither.
 */
export function rateLimit(
  now: () => number,
  windows: RateWindows = memoryRateWindows(),
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.get('key');
    if (key.rpm === null || c.req.method !== 'POST') return next();
    const rpm = key.rpm;
    const a = windows.hit(key.id, rpm, now());
    c.header('x-ratelimit-limit-requests', String(rpm));
    if (!a.admitted) {
      const seconds = Math.max(1, Math.ceil(a.waitMs / 1000));
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
    c.header('x-ratelimit-remaining-requests', String(Math.max(0, Math.floor(rpm - a.used - 1))));
    return next();
  };
}
