import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite } from '../../../../test/fixtures/dynalite.ts';
import type { Dynalite } from '../../../../test/fixtures/dynalite.ts';
import { usageRow } from '../../../../test/fixtures/usage-row.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db.close());

const row = usageRow;

describe('DynamoDB out of reach', () => {
  it('answers a 503 the client can retry, not an opaque 500', async () => {
    const { openDynamoStore } = await import('./store.ts');
    const store = await openDynamoStore({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await expect(store.ledger.reserve(1, 1, 1000)).rejects.toMatchObject({
      status: 503,
      code: 'store_unavailable',
      headers: { 'retry-after': '1' },
    });
    await store.close();
  });
});

describe('DynamoDB keys', () => {
  it('creates, finds by secret, lists, updates and deletes keys, bumping the version', async () => {
    const store = await db.store();
    const v0 = await store.keys.version();
    const { record, secret } = await store.keys.create({
      name: 'alice',
      quotaUsd: 1,
      rpm: 5,
      tpm: 100,
    });
    expect(record).toMatchObject({
      name: 'alice',
      quotaMicros: 1_000_000,
      usedMicros: 0,
      reservedMicros: 0,
      rpm: 5,
      tpm: 100,
      enabled: true,
    });
    expect(await store.keys.version()).toBeGreaterThan(v0);
    expect((await store.keys.findBySecret(secret))?.name).toBe('alice');
    expect(await store.keys.findBySecret('sk-nope')).toBeNull();
    await expect(store.keys.create({ name: 'alice' })).rejects.toThrow(/already exists/);
    await store.keys.upsertFromConfig({ name: 'bob', key: 'sk-bob-secret-1234' });
    await expect(
      store.keys.upsertFromConfig({ name: 'carol', key: 'sk-bob-secret-1234' }),
    ).rejects.toThrow(/same secret as key "bob"/);
    expect((await store.keys.list()).map((k) => k.name)).toEqual(['alice', 'bob']);
    const v1 = await store.keys.version();
    expect(
      await store.keys.update('alice', { quotaUsd: 2, models: ['gpt-*'], enabled: false }),
    ).toMatchObject({
      quotaMicros: 2_000_000,
      models: ['gpt-*'],
      enabled: false,
    });
    expect(await store.keys.version()).toBeGreaterThan(v1);
    // Disabled from the console: the config file cannot switch it back on.
    await store.keys.upsertFromConfig({ name: 'alice', key: secret, quotaUsd: 2 });
    expect((await store.keys.get('alice'))?.enabled).toBe(false);
    expect((await store.keys.topUp('alice', 0.5)).quotaMicros).toBe(2_500_000);
    await expect(store.keys.topUp('bob', 1)).rejects.toThrow(/unlimited/);
    // A new secret from the config: the old one stops working.
    await store.keys.upsertFromConfig({ name: 'bob', key: 'sk-bob-secret-5678' });
    expect(await store.keys.findBySecret('sk-bob-secret-1234')).toBeNull();
    expect((await store.keys.findBySecret('sk-bob-secret-5678'))?.name).toBe('bob');
    await store.keys.delete('bob');
    expect(await store.keys.get('bob')).toBeNull();
    expect(await store.keys.findBySecret('sk-bob-secret-5678')).toBeNull();
    await store.close();
  });
});

describe('DynamoDB keys from two processes at once', () => {
  it('creates a config key once when two relays start together', async () => {
    const tablePrefix = await db.tables();
    const a = await db.store({ tablePrefix });
    const b = await db.store({ tablePrefix });
    const key = { name: 'shared', key: 'sk-shared-0123456789abcdef', quotaUsd: 1 };
    const [ra, rb] = await Promise.all([
      a.keys.upsertFromConfig(key),
      b.keys.upsertFromConfig(key),
    ]);
    expect(ra.id).toBe(rb.id);
    expect((await a.keys.list()).map((k) => k.name)).toEqual(['shared']);
    await a.close();
    await b.close();
  });
});

describe('DynamoDB quota ledger', () => {
  it('holds only while used + reserved + hold ≤ quota, and settles idempotently', async () => {
    const store = await db.store();
    const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 }); // 1000 micros
    const a = await store.ledger.reserve(record.id, 600, 60_000);
    expect(a).not.toBeNull();
    expect(await store.ledger.reserve(record.id, 500, 60_000)).toBeNull();
    expect((await store.keys.get('k'))?.reservedMicros).toBe(600);
    const settled = row({ keyId: record.id, keyName: 'k', costMicros: 250 });
    await store.ledger.settle(a, settled);
    await store.ledger.settle(a, settled); // a retry: no second charge, no second row
    expect(await store.keys.get('k')).toMatchObject({ usedMicros: 250, reservedMicros: 0 });
    expect(await store.usage.list({ keyId: record.id })).toHaveLength(1);
    expect(await store.ledger.reserve(record.id, 750, 60_000)).not.toBeNull();
    expect(await store.ledger.reserve(record.id, 1, 60_000)).toBeNull();
    await store.close();
  });

  it('keeps holds right across quota changes, to unlimited and back', async () => {
    const store = await db.store();
    const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
    expect(await store.ledger.reserve(record.id, 600, 60_000)).not.toBeNull();
    await store.keys.update('k', { quotaUsd: 0.002, rpm: 9 });
    expect(await store.ledger.reserve(record.id, 1401, 60_000)).toBeNull();
    expect(await store.ledger.reserve(record.id, 1400, 60_000)).not.toBeNull();
    await store.keys.update('k', { quotaUsd: null });
    expect(await store.ledger.reserve(record.id, 1e9, 60_000)).not.toBeNull();
    await store.keys.update('k', { quotaUsd: 0.01 });
    // 10 000 quota, 600 + 1400 + 1e9 held.
    expect(await store.ledger.reserve(record.id, 1, 60_000)).toBeNull();
    expect(await store.keys.get('k')).toMatchObject({
      quotaMicros: 10_000,
      rpm: 9,
      reservedMicros: 1_000_002_000,
    });
    await store.close();
  });

  it('caps a settlement above the hold at what the key has left, keeping the full cost in detail', async () => {
    const store = await db.store();
    const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
    const r = await store.ledger.reserve(record.id, 100, 60_000);
    await store.ledger.settle(r, row({ keyId: record.id, keyName: 'k', costMicros: 5000 }));
    expect((await store.keys.get('k'))?.usedMicros).toBe(1000);
    const [stored] = await store.usage.list({ keyId: record.id });
    expect(stored).toMatchObject({ costMicros: 1000, detail: { uncappedCostMicros: 5000 } });
    const [summary] = await store.usage.summary({ fromMs: 0, toMs: Date.now() + 1000 });
    expect(summary).toMatchObject({ keyName: 'k', requests: 1, costMicros: 1000 });
    await store.close();
  });

  it('lets a hold past its lease stop counting, with no sweep, and still charges its late settle once', async () => {
    let now = 1_700_000_000_000;
    const store = await db.store({ now: () => now });
    const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.001 });
    const dead = await store.ledger.reserve(record.id, 900, 5_000);
    expect(await store.ledger.reserve(record.id, 900, 5_000)).toBeNull();
    now += 5_001;
    expect((await store.keys.get('k'))?.reservedMicros).toBe(0);
    const next = await store.ledger.reserve(record.id, 900, 5_000);
    expect(next).not.toBeNull();
    expect(store.stats.expiredHolds).toBe(1);
    // The expired request finishes after all: charged (capped at what is left), exactly once.
    await store.ledger.settle(dead, row({ keyId: record.id, keyName: 'k', costMicros: 50 }));
    await store.ledger.settle(dead, row({ keyId: record.id, keyName: 'k', costMicros: 50 }));
    expect(await store.keys.get('k')).toMatchObject({ usedMicros: 50, reservedMicros: 900 });
    await store.ledger.release(next!);
    expect(await store.keys.get('k')).toMatchObject({ usedMicros: 50, reservedMicros: 0 });
    await store.close();
  });

  it('never overspends under concurrent holds', async () => {
    const store = await db.store();
    const { record } = await store.keys.create({ name: 'k', quotaUsd: 0.0001 }); // 100 micros
    const holds = await Promise.all(
      Array.from({ length: 40 }, () => store.ledger.reserve(record.id, 7, 60_000)),
    );
    expect(holds.filter(Boolean)).toHaveLength(14);
    await Promise.all(
      holds.map((h, i) =>
        store.ledger.settle(
          h,
          row({ keyId: record.id, keyName: 'k', costMicros: h ? 7 : 0, requestId: `r${i}` }),
        ),
      ),
    );
    expect(await store.keys.get('k')).toMatchObject({ usedMicros: 98, reservedMicros: 0 });
    await store.close();
  });
});

describe('DynamoDB rate windows', () => {
  it('admits exactly rpm requests per sliding minute and refuses with a wait', async () => {
    const store = await db.store();
    const t = 1_700_000_020_000; // 40 s into a minute
    const admissions = await Promise.all(
      Array.from({ length: 8 }, () => store.rates.hit(1, { rpm: 5, tpm: null }, t)),
    );
    expect(admissions.filter((a) => a.admitted)).toHaveLength(5);
    const refused = admissions.find((a) => !a.admitted)!;
    expect(refused).toMatchObject({ refusedBy: 'requests', requests: { limit: 5, used: 5 } });
    // 20 s to the next minute, then 12 s until the last one's weighted 5 leaves room for one.
    expect(refused.waitMs).toBe(32_000);
    // Next minute, 30 s in: half of the previous minute's 5 still count.
    const later = await Promise.all(
      Array.from({ length: 5 }, () => store.rates.hit(1, { rpm: 5, tpm: null }, t + 50_000)),
    );
    expect(later.filter((a) => a.admitted)).toHaveLength(2);
    await store.close();
  });

  it('refuses by tokens once the window is full, counting tokens at settlement', async () => {
    const store = await db.store();
    const t = 1_700_000_000_000;
    expect((await store.rates.hit(2, { rpm: null, tpm: 100 }, t)).admitted).toBe(true);
    await store.rates.addTokens(2, 100, t);
    const refused = await store.rates.hit(2, { rpm: 10, tpm: 100 }, t + 1000);
    expect(refused).toMatchObject({
      admitted: false,
      refusedBy: 'tokens',
      tokens: { limit: 100, used: 100 },
    });
    expect(refused.waitMs).toBeGreaterThan(0);
    await store.close();
  });
});

describe('DynamoDB usage', () => {
  it('keeps raw rows and daily rollups, and answers totals and summaries from both', async () => {
    const store = await db.store({ timeZone: 'UTC', retentionDays: 30 });
    const { record } = await store.keys.create({ name: 'k' });
    await store.usage.record(row({ keyId: record.id, keyName: 'k', costMicros: 30 }));
    await store.usage.record(
      row({ keyId: record.id, keyName: 'k', costMicros: 12, status: 500, model: 'other' }),
    );
    const now = Date.now();
    expect(await store.usage.totalMicros(record.id, 0, now + 1000)).toBe(42);
    expect(await store.usage.totalMicros(record.id, now + 1000, now + 2000)).toBe(0);
    const summary = await store.usage.summary({
      keyName: 'k',
      fromMs: 0,
      toMs: now + 86_400_000 * 2,
    });
    expect(summary).toEqual([
      expect.objectContaining({ model: 'gpt-x', requests: 1, errors: 0, costMicros: 30 }),
      expect.objectContaining({ model: 'other', requests: 1, errors: 1, costMicros: 12 }),
    ]);
    const listed = await store.usage.list({ limit: 1 });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.costMicros).toBe(12);
    const report = await store.admin.usage.report({
      fromDay: '2000-01-01',
      toDay: '2100-01-01',
      groupBy: 'model',
    });
    expect(report.map((r) => [r.group, r.requests, r.costMicros])).toEqual([
      ['gpt-x', 1, 30],
      ['other', 1, 12],
    ]);
    await store.close();
  });
});
