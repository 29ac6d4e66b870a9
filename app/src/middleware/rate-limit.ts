import type { MiddlewareHandler } from 'hono';
import { RelayError } from '../errors.ts';
import type { RateAdmission, RateWindows } from '../store/types.ts';
import type { AppEnv } from '../types.ts';

/** OpenAI's header names: remaining = what is left of the limit after this request. */
function limitHeaders(a: RateAdmission): Record<string, string> {
  const headers: Record<string, string> = {};
  const requests = a.requests;
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit);
    const left = a.admitted ? requests.limit - requests.used - 1 : 0;
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(left)));
  }
  const tokens = a.tokens;
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit);
    const left = a.refusedBy === 'tokens' ? 0 : tokens.limit - tokens.used;
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(left)));
  }
  return headers;
}

/**
 * Requests and tokens per minute per key (ratelimit/window.ts has the sliding-window rule).
 * Tokens are only known once a request settles, so TPM refuses a request when the window is
 * already full, and the settled tokens are counted then (RequestUsage). The windows are the
 * store's: in memory for one process, shared by cluster workers and fleet hosts, or each would
 * let the limit through and the key would get workers × rpm. Keys without a limit touch neither.
 */
export function rateLimit(now: () => number, windows: RateWindows): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.get('key');
    if ((key.rpm === null && key.tpm === null) || c.req.method !== 'POST') return next();
    const a = await windows.hit(key.id, key, now());
    const headers = limitHeaders(a);
    if (!a.admitted) {
      const seconds = Math.max(1, Math.ceil(a.waitMs / 1000));
      const what =
        a.refusedBy === 'tokens'
          ? `${key.tpm} tokens per minute`
          : `${key.rpm} requests per minute`;
      const reset =
        a.refusedBy === 'tokens' ? 'x-ratelimit-reset-tokens' : 'x-ratelimit-reset-requests';
      throw new RelayError(
        429,
        'rate_limit_exceeded',
        `Rate limit reached for key "${key.name}": ${what}. Try again in ${seconds}s.`,
        { headers: { 'retry-after': String(seconds), ...headers, [reset]: `${seconds}s` } },
      );
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    return next();
  };
}
