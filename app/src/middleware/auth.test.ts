import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { CachedKeyStore } from '../store/key-cache.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import type { AppEnv, RequestRecord } from '../types.ts';
import { authenticate } from './auth.ts';

const SECRET = 'sk-auth-0123456789abcdef';

/** What authenticate(c) returned (a promise or not) and what it set or threw, per request. */
function setup() {
  const sqlite = new SqliteStore({ path: ':memory:' });
  const keys = new CachedKeyStore(sqlite.keys);
  const auth = authenticate({ keys } as unknown as Store, Date.now);
  const app = new Hono<AppEnv>();
  app.post('/', async (c) => {
    c.set('record', { startedAt: 0, startedAtHr: 0, upstreamWaitMs: 0 } as RequestRecord);
    let returned: unknown;
    try {
      returned = auth(c);
      await returned;
    } catch (err) {
      return c.json({ promise: returned instanceof Promise, error: (err as Error).message });
    }
    return c.json({ promise: returned instanceof Promise, key: c.get('key').name });
  });
  const call = async (secret: string) =>
    (
      await app.request('/', { method: 'POST', headers: { authorization: `Bearer ${secret}` } })
    ).json() as Promise<{ promise: boolean; key?: string; error?: string }>;
  return { sqlite, keys, call };
}

describe('authenticate', () => {
  it('checks a key the cache has in the same turn, and looks up any other', async () => {
    const { sqlite, keys, call } = setup();
    sqlite.upsertKey({ name: 'a', key: SECRET });
    await keys.sync();
    expect(await call(SECRET)).toEqual({ promise: true, key: 'a' });
    expect(await call(SECRET)).toEqual({ promise: false, key: 'a' });
    expect(await call('sk-auth-unknown-0123456789')).toEqual({
      promise: true,
      error: 'Incorrect API key provided.',
    });
    sqlite.closeNow();
  });

  it('refuses a cached key that is disabled or expired, as one looked up', async () => {
    const { sqlite, keys, call } = setup();
    sqlite.upsertKey({ name: 'a', key: SECRET });
    await keys.sync();
    await keys.setEnabled('a', false);
    expect(await call(SECRET)).toEqual({
      promise: true,
      error: 'API key "a" has been disabled.',
    });
    expect(await call(SECRET)).toEqual({
      promise: false,
      error: 'API key "a" has been disabled.',
    });
    await keys.update('a', { enabled: true, expiresAt: Date.now() - 1000 });
    await call(SECRET);
    const expired = await call(SECRET);
    expect(expired.promise).toBe(false);
    expect(expired.error).toMatch(/^API key "a" expired on /);
    sqlite.closeNow();
  });
});
