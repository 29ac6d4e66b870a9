/**
 * What every Store implementation (store/types.ts) must do, whatever it keeps its data in:
 * SQLite runs it in store-sqlite.contract.test.ts, DynamoDB (on dynalite) in its own file.
 * Only the async role interfaces are used here, never an implementation's own calls.
 */
import { describe, expect, it, vi } from 'vitest';
import { CachedKeyStore } from '../../app/src/store/key-cache.ts';
import type { Store, UsageRow } from '../../app/src/store/types.ts';

/** Time the store under test reads (holds' leases, row times); moved by the tests only. */
export interface ContractClock {
  now(): number;
}

export interface StoreUnderTest {
  /**
   * A view of one fresh, empty backing store, as one process opens it (its own connections).
   * Called twice, it gives two processes (cluster workers, fleet hosts) sharing the data.
   */
  open(): Promise<Store>;
  /** Drops what the factory made (files, tables); the stores opened are closed already. */
  cleanup?(): Promise<void>;
}

export type StoreFactory = (clock: ContractClock) => Promise<StoreUnderTest>;

const START = 1_800_000_000_000;

const row = (keyId: number, keyName: string, costMicros: number, model = 'm'): UsageRow => ({
  requestId: `req_${Math.random().toString(36).slice(2)}`,
  keyId,
  keyName,
  endpoint: '/chat/completions',
  model,
  upstreamModel: model,
  channel: 'c',
  status: 200,
  promptTokens: 10,
  completionTokens: 5,
  costMicros,
  latencyMs: 12,
  ttfbMs: 3,
  source: 'upstream',
  errorCode: null,
});

/** One backing store and its first view, a clock, and everything closed after each test. */
async function fixture(factory: StoreFactory, use: (f: Fixture) => Promise<void>): Promise<void> {
  const clock = { t: START, now: () => clock.t };
  const backing = await factory(clock);
  const opened: Store[] = [];
  const open = async () => {
    const store = await backing.open();
    opened.push(store);
    return store;
  };
  try {
    await use({ clock, store: await open(), open });
  } finally {
    for (const s of opened) await s.close();
    await backing.cleanup?.();
  }
}

interface Fixture {
  readonly clock: { t: number; now(): number };
  readonly store: Store;
  readonly open: () => Promise<Store>;
}

export function describeStoreContract(name: string, factory: StoreFactory): void {
  const test = (title: string, body: (f: Fixture) => Promise<void>) =>
    it(title, () => fixture(factory, body));

  describe(`the ${name} store keeps the Store contract`, () => {
    describe('keys', () => {
      test('creates a key whose secret finds it, and keeps only a hint of the secret', async ({
        store,
      }) => {
        const { record, secret } = await store.keys.create({
          name: 'alice',
          quotaUsd: 2,
          models: ['gpt-*'],
          rpm: 10,
          tpm: 1000,
        });
        expect(record).toMatchObject({
          name: 'alice',
          quotaMicros: 2_000_000,
          usedMicros: 0,
          reservedMicros: 0,
          models: ['gpt-*'],
          rpm: 10,
          tpm: 1000,
          enabled: true,
          expiresAt: null,
        });
        expect(JSON.stringify(record)).not.toContain(secret);
        expect(await store.keys.findBySecret(secret)).toEqual(record);
        expect(await store.keys.findBySecret(`${secret}x`)).toBeNull();
        expect(await store.keys.get('alice')).toEqual(record);
        expect(await store.keys.get('bob')).toBeNull();
        await expect(store.keys.create({ name: 'alice' })).rejects.toThrow(/already exists/);
      });

      test('updates, tops up, disables and deletes; the config cannot re-enable a disabled key', async ({
        store,
      }) => {
        const secret = 'sk-contract-config-0123456789';
        await store.keys.upsertFromConfig({ name: 'cfg', key: secret, quotaUsd: 1, rpm: 5 });
        await store.keys.create({ name: 'made' });
        expect((await store.keys.list()).map((k) => k.name)).toEqual(['cfg', 'made']);
        expect(await store.keys.update('cfg', { tpm: 500, rpm: null })).toMatchObject({
          tpm: 500,
          rpm: null,
          quotaMicros: 1_000_000,
        });
        expect((await store.keys.topUp('cfg', 0.5)).quotaMicros).toBe(1_500_000);
        expect((await store.keys.setEnabled('cfg', false)).enabled).toBe(false);
        // What the relay does with its config file at every start.
        await store.keys.upsertFromConfig({ name: 'cfg', key: secret, quotaUsd: 1, enabled: true });
        expect(await store.keys.findBySecret(secret)).toMatchObject({
          enabled: false,
          quotaMicros: 1_000_000,
        });
        await store.keys.delete('made');
        expect(await store.keys.get('made')).toBeNull();
        await expect(store.keys.topUp('nobody', 1)).rejects.toThrow(/no key named/);
      });

      test('moves the keys version on every key change, and not on spend', async ({ store }) => {
        const v0 = await store.keys.version();
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 1 });
        const v1 = await store.keys.version();
        expect(v1).not.toBe(v0);
        const hold = await store.ledger.reserve(record.id, 100, 60_000);
        await store.ledger.settle(hold, row(record.id, 'k', 50));
        expect(await store.keys.version()).toBe(v1);
        await store.keys.setEnabled('k', false);
        expect(await store.keys.version()).not.toBe(v1);
      });

      test('a cached lookup sees a change made here at once, and one made by another process within the TTL', async ({
        store,
        open,
        clock,
      }) => {
        const other = await open();
        const cache = new CachedKeyStore(store.keys, { now: clock.now, ttlMs: 2000 });
        const { secret } = await cache.create({ name: 'k' });
        await cache.sync();
        expect((await cache.findBySecret(secret))?.enabled).toBe(true);
        // Written through the cache: seen at once.
        await cache.setEnabled('k', false);
        expect((await cache.findBySecret(secret))?.enabled).toBe(false);
        // Written by another process: seen once the version poll notices it.
        await other.keys.setEnabled('k', true);
        expect((await cache.findBySecret(secret))?.enabled).toBe(false);
        clock.t += 500;
        await vi.waitFor(async () =>
          expect((await cache.findBySecret(secret))?.enabled).toBe(true),
        );
        // An unknown secret is remembered as unknown, briefly (500 ms by default).
        const late = 'sk-contract-late-0123456789ab';
        expect(await cache.findBySecret(late)).toBeNull();
        clock.t += 100;
        await other.keys.upsertFromConfig({ name: 'late', key: late });
        clock.t += 500;
        await vi.waitFor(async () => expect((await cache.findBySecret(late))?.name).toBe('late'));
      });

      test('the TTL alone bounds a cached entry, whatever the version says', async ({
        store,
        open,
        clock,
      }) => {
        // A poll interval longer than the TTL: only the TTL can refresh the entry.
        const cache = new CachedKeyStore(store.keys, { now: clock.now, versionEveryMs: 3.6e6 });
        const other = await open();
        const { secret } = await store.keys.create({ name: 'k' });
        await cache.sync();
        expect((await cache.findBySecret(secret))?.enabled).toBe(true);
        await other.keys.setEnabled('k', false);
        clock.t += 1999;
        expect((await cache.findBySecret(secret))?.enabled).toBe(true);
        clock.t += 1;
        expect((await cache.findBySecret(secret))?.enabled).toBe(false);
      });
    });

    describe('quota ledger', () => {
      test('holds never pass the quota, even 50 at once', async ({ store }) => {
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
        const holds = await Promise.all(
          Array.from({ length: 50 }, () => store.ledger.reserve(record.id, 100, 60_000)),
        );
        expect(holds.filter((h) => h !== null)).toHaveLength(10);
        expect(new Set(holds.filter((h) => h !== null).map((h) => h!.id)).size).toBe(10);
        expect(await store.keys.get('k')).toMatchObject({ reservedMicros: 1000, usedMicros: 0 });
        expect(await store.ledger.reserve(record.id, 1, 60_000)).toBeNull();
      });

      test('settling gives the hold back, charges the cost and writes one usage row', async ({
        store,
      }) => {
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
        const hold = await store.ledger.reserve(record.id, 600, 60_000);
        expect(hold).toMatchObject({ keyId: record.id, micros: 600 });
        expect(typeof hold!.id).toBe('string');
        expect(await store.ledger.reserve(record.id, 600, 60_000)).toBeNull();
        const r = row(record.id, 'k', 250);
        await store.ledger.settle(hold, r);
        expect(await store.keys.get('k')).toMatchObject({ usedMicros: 250, reservedMicros: 0 });
        const rows = await store.usage.list({ keyId: record.id });
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ requestId: r.requestId, costMicros: 250, status: 200 });
      });

      test('charges at most what is left when the real cost passes the hold', async ({ store }) => {
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
        const hold = await store.ledger.reserve(record.id, 100, 60_000);
        await store.ledger.settle(hold, row(record.id, 'k', 5000));
        expect((await store.keys.get('k'))!.usedMicros).toBe(1000);
        const [stored] = await store.usage.list({ keyId: record.id });
        expect(stored).toMatchObject({
          costMicros: 1000,
          detail: { uncappedCostMicros: 5000 },
        });
      });

      test('releasing gives the hold back without a charge or a row', async ({ store }) => {
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
        const hold = (await store.ledger.reserve(record.id, 700, 60_000))!;
        await store.ledger.release(hold);
        expect(await store.keys.get('k')).toMatchObject({ usedMicros: 0, reservedMicros: 0 });
        expect(await store.usage.list({ keyId: record.id })).toHaveLength(0);
        expect(await store.ledger.reserve(record.id, 1000, 60_000)).not.toBeNull();
      });

      test('a hold whose lease ended counts no more, and settling it late frees nothing twice', async ({
        store,
        open,
        clock,
      }) => {
        const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
        // Held by a process that then died.
        const dead = await open();
        const orphan = (await dead.ledger.reserve(record.id, 600, 1000))!;
        expect(await store.ledger.reserve(record.id, 600, 60_000)).toBeNull();
        clock.t += 1000;
        const fresh = await store.ledger.reserve(record.id, 600, 60_000);
        expect(fresh).not.toBeNull();
        // The old request turns up after all: it is charged, but the live hold stays held.
        await dead.ledger.settle(orphan, row(record.id, 'k', 100));
        expect(await store.keys.get('k')).toMatchObject({ usedMicros: 100, reservedMicros: 600 });
        expect(await store.ledger.reserve(record.id, 301, 60_000)).toBeNull();
        expect(await store.ledger.reserve(record.id, 300, 60_000)).not.toBeNull();
      });

      test('a key without a quota holds and settles too', async ({ store }) => {
        const { record } = await store.keys.create({ name: 'k' });
        const hold = await store.ledger.reserve(record.id, 10_000_000, 60_000);
        expect(hold).not.toBeNull();
        await store.ledger.settle(hold, row(record.id, 'k', 42));
        expect(await store.keys.get('k')).toMatchObject({ usedMicros: 42, reservedMicros: 0 });
      });
    });

    describe('usage', () => {
      test('totals, lists newest first and sums per key and model', async ({ store, clock }) => {
        const a = (await store.keys.create({ name: 'a' })).record;
        const b = (await store.keys.create({ name: 'b' })).record;
        const from = clock.t;
        await store.usage.record(row(a.id, 'a', 100, 'm1'));
        clock.t += 1000;
        await store.ledger.settle(null, row(a.id, 'a', 50, 'm2'));
        clock.t += 1000;
        await store.usage.record(row(b.id, 'b', 7, 'm1'));
        clock.t += 1000;
        expect(await store.usage.totalMicros(a.id, from, clock.t)).toBe(150);
        expect(await store.usage.totalMicros(a.id, from + 1, clock.t)).toBe(50);
        expect(await store.usage.totalMicros(b.id, from, clock.t)).toBe(7);
        const all = await store.usage.list();
        expect(all.map((r) => r.costMicros)).toEqual([7, 50, 100]);
        expect(all[0]!.createdAt).toBeGreaterThan(all[2]!.createdAt);
        expect((await store.usage.list({ keyId: a.id, limit: 1 })).map((r) => r.model)).toEqual([
          'm2',
        ]);
        const summary = await store.usage.summary({ fromMs: from, toMs: clock.t });
        expect(summary).toHaveLength(3);
        expect(summary[0]).toMatchObject({
          keyName: 'a',
          model: 'm1',
          requests: 1,
          promptTokens: 10,
          completionTokens: 5,
          costMicros: 100,
        });
        expect(await store.usage.summary({ keyName: 'b', fromMs: from, toMs: clock.t })).toEqual([
          expect.objectContaining({ keyName: 'b', model: 'm1', costMicros: 7 }),
        ]);
      });
    });

    describe('rate windows', () => {
      const T = START + 30_000;

      test('admits rpm requests a minute, then refuses with the wait', async ({ store }) => {
        const limits = { rpm: 3, tpm: null };
        const seen = [];
        for (let i = 0; i < 3; i++) seen.push(await store.rates.hit(1, limits, T + i));
        expect(seen.map((a) => [a.admitted, a.requests!.used])).toEqual([
          [true, 0],
          [true, 1],
          [true, 2],
        ]);
        const refused = await store.rates.hit(1, limits, T + 10);
        expect(refused).toMatchObject({ admitted: false, refusedBy: 'requests', tokens: null });
        expect(refused.waitMs).toBeGreaterThan(0);
        expect(refused.waitMs).toBeLessThanOrEqual(120_000);
        // Another key has its own window; the refused one gets in once the wait is over.
        expect((await store.rates.hit(2, limits, T + 10)).admitted).toBe(true);
        expect((await store.rates.hit(1, limits, T + 10 + refused.waitMs)).admitted).toBe(true);
      });

      test('refuses once the settled tokens fill the tpm window, and not a request before', async ({
        store,
      }) => {
        const limits = { rpm: null, tpm: 100 };
        const first = await store.rates.hit(1, limits, T);
        expect(first).toMatchObject({ admitted: true, requests: null, tokens: { used: 0 } });
        await store.rates.addTokens(1, 99, T + 1);
        expect((await store.rates.hit(1, limits, T + 2)).admitted).toBe(true);
        await store.rates.addTokens(1, 1, T + 3);
        const refused = await store.rates.hit(1, limits, T + 4);
        expect(refused).toMatchObject({ admitted: false, refusedBy: 'tokens' });
        expect(refused.tokens!.used).toBe(100);
        expect(refused.waitMs).toBeGreaterThan(0);
        expect((await store.rates.hit(1, limits, T + 4 + refused.waitMs)).admitted).toBe(true);
      });

      test('a request tpm refuses is not counted against rpm', async ({ store }) => {
        await store.rates.addTokens(1, 50, T);
        const full = await store.rates.hit(1, { rpm: 2, tpm: 50 }, T + 1);
        expect(full).toMatchObject({ admitted: false, refusedBy: 'tokens' });
        const rpmOnly = { rpm: 2, tpm: null };
        expect((await store.rates.hit(1, rpmOnly, T + 2)).requests!.used).toBe(0);
      });

      test('two processes share the windows exactly', async ({ store, open }) => {
        const other = await open();
        const limits = { rpm: 5, tpm: null };
        const admissions = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 ? store : other).rates.hit(9, limits, T + i)),
        );
        expect(admissions.filter((a) => a.admitted)).toHaveLength(5);
        await other.rates.addTokens(9, 40, T + 20);
        expect(await store.rates.hit(9, { rpm: null, tpm: 40 }, T + 21)).toMatchObject({
          admitted: false,
          refusedBy: 'tokens',
        });
      });
    });
  });
}
