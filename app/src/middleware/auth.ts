import type { Context } from 'hono';
import { RelayError } from '../errors.ts';
import type { KeyRecord, Store } from '../store/types.ts';
import type { AppEnv } from '../types.ts';
import { requestHeader } from '../node-bindings.ts';

/**
 * Bearer (OpenAI SDKs), x-api-key (Anthropic-style clients), x-goog-api-key (Gemini clients) or
 * api-key (Azure-style clients).
 */
export function keyFromHeaders(get: (name: string) => string | undefined): string | undefined {
  const auth = get('authorization');
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return m?.[1]?.trim() || undefined;
  }
  return (
    get('x-api-key')?.trim() || get('x-goog-api-key')?.trim() || get('api-key')?.trim() || undefined
  );
}

const invalidKey = (message: string) =>
  new RelayError(401, 'invalid_api_key', message, { type: 'invalid_request_error' });

/**
 * Sets the caller's key on the context, or throws the 401 the caller's dialect renders. A key the
 * cache has is checked in the same turn (undefined returned, no promise); otherwise the promise
 * of the lookup and check.
 */
export function authenticate(
  store: Store,
  now: () => number,
): (c: Context<AppEnv>) => Promise<void> | undefined {
  const admit = (c: Context<AppEnv>, key: KeyRecord | null): undefined => {
    if (!key) throw invalidKey('Incorrect API key provided.');
    c.get('record').keyName = key.name;
    if (!key.enabled) throw invalidKey(`API key "${key.name}" has been disabled.`);
    if (key.expiresAt !== null && key.expiresAt <= now()) {
      throw invalidKey(
        `API key "${key.name}" expired on ${new Date(key.expiresAt).toISOString()}.`,
      );
    }
    c.set('key', key);
  };
  return (c) => {
    const dialect = c.get('dialect');
    // Gemini clients may send the key as ?key= (Google's own convention); no other dialect does.
    // The access log writes the path without the query, so the key never reaches a log line.
    const secret =
      keyFromHeaders((n) => requestHeader(c, n)) ??
      (dialect?.name === 'gemini' ? c.req.query('key')?.trim() || undefined : undefined);
    if (!secret) {
      const hint = dialect?.keyHint ?? "'Authorization: Bearer YOUR_KEY'";
      throw invalidKey(`You didn't provide an API key. Send it as ${hint}.`);
    }
    const cached = store.keys.cachedBySecret?.(secret);
    if (cached) return admit(c, cached);
    return store.keys.findBySecret(secret).then((key) => admit(c, key));
  };
}
