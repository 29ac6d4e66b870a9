import type { MiddlewareHandler } from 'hono';
import { RelayError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import type { AppEnv } from '../types.ts';

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

export function auth(store: Store, now: () => number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const dialect = c.get('dialect');
    // Gemini clients may send the key as ?key= (Google's own convention); no other dialect does.
    // The access log writes the path without the query, so the key never reaches a log line.
    const secret =
      keyFromHeaders((n) => c.req.header(n)) ??
      (dialect?.name === 'gemini' ? c.req.query('key')?.trim() || undefined : undefined);
    if (!secret) {
      const hint = dialect?.keyHint ?? "'Authorization: Bearer YOUR_KEY'";
      throw invalidKey(`You didn't provide an API key. Send it as ${hint}.`);
    }
    const key = await store.keys.findBySecret(secret);
    if (!key) throw invalidKey('Incorrect API key provided.');
    c.get('record').keyName = key.name;
    if (!key.enabled) throw invalidKey(`API key "${key.name}" has been disabled.`);
    if (key.expiresAt !== null && key.expiresAt <= now()) {
      throw invalidKey(
        `API key "${key.name}" expired on ${new Date(key.expiresAt).toISOString()}.`,
      );
    }
    c.set('key', key);
    return next();
  };
}
