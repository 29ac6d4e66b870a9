/** The upstream's own word on when to ask again. */

export type HeaderSource =
  Headers | Readonly<Record<string, string | readonly string[] | undefined>> | undefined;

export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== lower || value === undefined) continue;
    return typeof value === 'string' ? value : value[0];
  }
  return undefined;
}

/** A day: larger hints are treated as this, so arithmetic never overflows into nonsense. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

const NUMBER = /^\s*\d+(\.\d+)?\s*$/;

/**
 * Delay requested by the upstream, in ms, or undefined when absent or unparseable.
 * Precedence as in the OpenAI SDK: `retry-after-ms`, then `retry-after` seconds, then
 * `retry-after` HTTP-date (relative to `now`, epoch ms). Never negative; at most `capMs`.
 */
export function parseRetryAfter(
  headers: HeaderSource,
  now: number,
  capMs: number = MAX_RETRY_AFTER_MS,
): number | undefined {
  const cap = (ms: number): number => Math.min(Math.max(0, Math.ceil(ms)), capMs);
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && NUMBER.test(ms)) return cap(Number(ms));
  const value = headerValue(headers, 'retry-after');
  if (value === undefined) return undefined;
  if (NUMBER.test(value)) return cap(Number(value) * 1000);
  // Only accept something that looks like an HTTP-date, not any string Date.parse tolerates.
  if (!/[a-z]{3},?\s+\d/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return cap(at - now);
}
