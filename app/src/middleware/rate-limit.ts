import type { Context } from 'hono';
import { RelayError } from '../errors.ts';
import type { RateAdmission, RateWindows, WindowUse } from '../store/types.ts';
import type { AppEnv } from '../types.ts';
import { addReplyHeaders } from './reply-headers.ts';

/** OpenAI's format for the reset headers: "20ms", "1s", "6m0s", "1h2m3s" (whole seconds up). */
export function resetIn(ms: number): string {
  if (ms < 1000) return `${Math.max(1, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** A window that cannot take one more request now (whichever window refused this one). */
const full = (w: WindowUse): boolean => w.used + 1 > w.limit;

/**
 * OpenAI's header names: remaining = what is left of each limit after this request (a refused
 * request is counted in neither window, so the window that did not refuse reports its real
 * room); a reset header for every window that is full.
 */
function limitHeaders(a: RateAdmission): Record<string, string> {
  const headers: Record<string, string> = {};
  const requests = a.requests;
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit);
    const left = requests.limit - requests.used - (a.admitted ? 1 : 0);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(left)));
    if (full(requests)) headers['x-ratelimit-reset-requests'] = resetIn(requests.waitMs);
  }
  const tokens = a.tokens;
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit);
    headers['x-ratelimit-remaining-tokens'] = String(
      Math.max(0, Math.floor(tokens.limit - tokens.used)),
    );
    if (full(tokens)) headers['x-ratelimit-reset-tokens'] = resetIn(tokens.waitMs);
  }
  return headers;
}

/**
 * Requests and tokens per minute per key (ratelimit/window.ts has the sliding-window rule).
 * Tokens are only known once a request settles, so TPM refuses a request when the window is
 * already full, and the settled tokens are counted then (RequestUsage). The windows are the
 * store's: in memory for one process, shared by cluster workers and fleet hosts, or each would
 * let the limit through and the key would get workers × rpm. Keys without a limit touch neither,
 * and get no promise to wait for (undefined): the guard runs this check itself, not as a
 * middleware of its own, which was one more async closure and dispatch step on every request.
 * A refused request throws the 429.
 */
export function rateLimit(
  now: () => number,
  windows: RateWindows,
): (c: Context<AppEnv>) => Promise<void> | undefined {
  return (c) => {
    const key = c.get('key');
    if ((key.rpm === null && key.tpm === null) || c.req.method !== 'POST') return undefined;
    return windows.hit(key.id, key, now()).then((a) => {
      const headers = limitHeaders(a);
      if (!a.admitted) {
        const seconds = Math.max(1, Math.ceil(a.waitMs / 1000));
        const what =
          a.refusedBy === 'tokens'
            ? `${key.tpm} tokens per minute`
            : `${key.rpm} requests per minute`;
        throw new RelayError(
          429,
          'rate_limit_exceeded',
          `Rate limit reached for key "${key.name}": ${what}. Try again in ${seconds}s.`,
          { headers: { 'retry-after': String(seconds), ...headers } },
        );
      }
      addReplyHeaders(c, headers);
    });
  };
}
