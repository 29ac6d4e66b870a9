/**
 * Client headers an upstream may see. An allowlist, because the alternative leaks: cookies,
 * tracing (sentry-trace, baggage), browser fingerprints (sec-*), the client's own key, and
 * hop-by-hop headers that describe our connection, not theirs.
 */
const FORWARDED = new Set(['openai-beta']);

export function forwardHeaders(incoming: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of incoming) if (FORWARDED.has(name)) out.set(name, value);
  return out;
}
