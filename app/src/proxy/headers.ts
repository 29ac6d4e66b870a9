import type { HeaderRecord } from '../providers/types.ts';

/**
 * Client headers an upstream may see. An allowlist, because the alternative leaks: cookies,
 * tracing (sentry-trace, baggage), browser fingerprints (sec-*), the client's own key, and
 * hop-by-hop headers that describe our connection, not theirs.
 */
const FORWARDED = ['openai-beta'] as const;

export function forwardHeaders(get: (name: string) => string | undefined): HeaderRecord {
  const out: HeaderRecord = {};
  for (const name of FORWARDED) {
    const value = get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
