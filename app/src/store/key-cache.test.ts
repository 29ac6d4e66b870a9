import { describe, expect, it, vi } from 'vitest';
import type { AdminStore } from './admin-types.ts';
import { CachedKeyStore, withKeyCache } from './key-cache.ts';
import { SqliteStore } from './sqlite.ts';

function setup(options: { maxEntries: number; maxUnknown?: number }) {
  const store = new SqliteStore({ path: ':memory:' });
  const reads = vi.spyOn(store.keys, 'findBySecret');
  const cache = new CachedKeyStore(store.keys, { ...options, now: () => 0 });
  const secret = (name: string) => `sk-cache-${name}-0123456789abcdef`;
  for (const name of ['a', 'b', 'c']) store.upsertKey({ name, key: secret(name) });
  // The first version read drops whatever was read before it; done before the lookups here.
  return { store, reads, cache, secret, ready: cache.sync() };
}

describe('the key cache', () => {
  it('keeps unknown secrets apart, so a flood of guesses never pushes a real key out', async () => {
    const { reads, cache, secret, ready } = setup({ maxEntries: 2, maxUnknown: 3 });
    await ready;
    expect((await cache.findBySecret(secret('a')))?.name).toBe('a');
    expect((await cache.findBySecret(secret('b')))?.name).toBe('b');
    // Each distinct guess is one store read; the same guess again is none.
    for (let i = 0; i < 20; i++)
      expect(await cache.findBySecret(`sk-guess-${i}-0123456789`)).toBeNull();
    expect(await cache.findBySecret('sk-guess-19-0123456789')).toBeNull();
    expect(reads).toHaveBeenCalledTimes(22);
    expect((await cache.findBySecret(secret('a')))?.name).toBe('a');
    expect((await cache.findBySecret(secret('b')))?.name).toBe('b');
    expect(reads).toHaveBeenCalledTimes(22);
  });

  it('drops the least recently used key when full, not the first one cached', async () => {
    const { reads, cache, secret, ready } = setup({ maxEntries: 2 });
    await ready;
    await cache.findBySecret(secret('a'));
    await cache.findBySecret(secret('b'));
    await cache.findBySecret(secret('a')); // a hit: a is now the most recent
    await cache.findBySecret(secret('c')); // full: b goes
    expect(reads).toHaveBeenCalledTimes(3);
    await cache.findBySecret(secret('a'));
    expect(reads).toHaveBeenCalledTimes(3);
    await cache.findBySecret(secret('b'));
    expect(reads).toHaveBeenCalledTimes(4);
  });

  it('answers a found key without a promise until its TTL ends, and never one it has not found', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const reads = vi.spyOn(store.keys, 'findBySecret');
    let now = 0;
    const cache = new CachedKeyStore(store.keys, { ttlMs: 1000, now: () => now });
    const secret = 'sk-cache-sync-0123456789abcdef';
    store.upsertKey({ name: 'sync', key: secret });
    await cache.sync();
    expect(cache.cachedBySecret(secret)).toBeUndefined();
    // A secret known to be unknown is findBySecret's to answer (null), never a hit.
    const guess = 'sk-cache-guess-0123456789';
    expect(await cache.findBySecret(guess)).toBeNull();
    expect(cache.cachedBySecret(guess)).toBeUndefined();
    await cache.findBySecret(secret);
    expect(cache.cachedBySecret(secret)?.name).toBe('sync');
    expect(reads).toHaveBeenCalledTimes(2);
    now = 1000;
    expect(cache.cachedBySecret(secret)).toBeUndefined();
    // Expired is gone: the next lookup reads the store again.
    expect((await cache.findBySecret(secret))?.name).toBe('sync');
    expect(reads).toHaveBeenCalledTimes(3);
    expect(cache.cachedBySecret(secret)?.name).toBe('sync');
    cache.invalidate();
    expect(cache.cachedBySecret(secret)).toBeUndefined();
    store.closeNow();
  });

  it('keeps every admin part of the store it wraps, getters included', () => {
    const store = new SqliteStore({ path: ':memory:' });
    // An admin store whose parts are getters on its class, as a lazily opened one has.
    const parts = [
      'keys',
      'usage',
      'retention',
      'audit',
      'channels',
      'sessions',
      'throttle',
    ] as const;
    class LazyAdmin {}
    for (const part of parts)
      Object.defineProperty(LazyAdmin.prototype, part, { get: () => store.admin[part] });
    const wrapped = withKeyCache({
      keys: store.keys,
      ledger: store.ledger,
      usage: store.usage,
      rates: store.rates,
      admin: new LazyAdmin() as AdminStore,
      close: () => store.close(),
    });
    expect(wrapped.admin.keys).toBe(wrapped.keys);
    for (const part of parts.slice(1)) expect(wrapped.admin[part]).toBe(store.admin[part]);
    store.closeNow();
  });
});
