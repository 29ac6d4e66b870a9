import type { HeaderRecord } from '../providers/types.ts';

/**
 * Client headers an upstream of the client's own dialect may see. An allowlist per dialect,
 * because the alternative leaks: cookies, tracing (sentry-trace, baggage), browser
 * fingerprints (sec-*), the client's own key, and hop-by-hop headers that describe our
 * connection, not theirs.
 */
export function forwardHeaders(
  names: readonly string[],
  get: (name: string) => string | undefined,
): HeaderRecord {
  const out: HeaderRecord = {};
  for (const name of names) {
    const value = get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
