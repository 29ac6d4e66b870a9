import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../app/src/logger.ts';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { UsageRow } from '../../../app/src/store/types.ts';
import { startUsagePruner } from '../../../app/src/usage/retention.ts';
import { SettableClock } from '../../fixtures/admin-app.ts';
import { seededRandom } from '../../fixtures/seeded-random.ts';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'rollups-')), 'relay.db');
const DAY = 86_400_000;
const START = Date.parse('2026-11-01T00:00:00Z');
const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function randomRows(n: number, random: () => number): { at: number; row: UsageRow }[] {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    at: START + Math.floor(random() * 10 * DAY),
    row: {
      requestId: `req_${i}`,
      keyId: 1,
      keyName: pick(['alice', 'bob', null]),
      endpoint: '/chat/completions',
      model: pick(['gpt-4o', 'claude-x']),
      upstreamModel: null,
      channel: pick(['a', 'b', null]),
      status: pick([200, 200, 200, 429, 502]),
      promptTokens: Math.floor(random() * 1000),
      completionTokens: Math.floor(random() * 500),
      cacheReadTokens: Math.floor(random() * 100),
      cacheWrite5mTokens: Math.floor(random() * 10),
      cacheWrite1hTokens: Math.floor(random() * 10),
      reasoningTokens: Math.floor(random() * 50),
      costMicros: Math.floor(random() * 10_000),
      latencyMs: Math.floor(random() * 2000),
      ttfbMs: random() < 0.5 ? null : Math.floor(random() * 500),
      source: 'upstream' as const,
      errorCode: null,
    },
  })).sort((x, y) => x.at - y.at);
}

/** Per day and key, straight from the raw rows: what the rollups must agree with. */
function fromRaw(store: SqliteStore) {
  const out: Record<string, { requests: number; cost: number; prompt: number; cacheRead: number }> =
    {};
  for (const r of store.listUsage({ limit: 1_000_000 })) {
    const k = `${new Date(r.createdAt).toISOString().slice(0, 10)}|${r.keyName ?? ''}`;
    const e = (out[k] ??= { requests: 0, cost: 0, prompt: 0, cacheRead: 0 });
    e.requests++;
    e.cost += r.costMicros;
    e.prompt += r.promptTokens;
    e.cacheRead += r.cacheReadTokens ?? 0;
  }
  return out;
}

async function fromRollups(store: SqliteStore) {
  const out: Record<string, { requests: number; cost: number; prompt: number; cacheRead: number }> =
    {};
  for (let d = 0; d < 10; d++) {
    const day = new Date(START + d * DAY).toISOString().slice(0, 10);
    for (const r of await store.admin.usage.report({ fromDay: day, toDay: day, groupBy: 'key' })) {
      out[`${day}|${r.group}`] = {
        requests: r.requests,
        cost: r.costMicros,
        prompt: r.promptTokens,
        cacheRead: r.cacheReadTokens,
      };
    }
  }
  return out;
}

describe('daily rollups', () => {
  it('add up to exactly what the raw rows say, and a rebuild (a changed time zone) gives the same numbers back', async () => {
    const path = tempDb();
    const clock = new SettableClock(START);
    const store = new SqliteStore({ path, now: () => clock.now(), timeZone: 'UTC' });
    for (const { at, row } of randomRows(400, seededRandom(7))) {
      clock.set(at);
      store.recordUsage(row);
    }
    const raw = fromRaw(store);
    expect(await fromRollups(store)).toEqual(raw);
    store.close();

    const shanghai = new SqliteStore({ path, timeZone: 'Asia/Shanghai' });
    const shifted = await shanghai.admin.usage.report({
      fromDay: '2026-11-01',
      toDay: '2026-11-11',
      groupBy: 'day',
    });
    // Same totals, other day boundaries.
    expect(shifted.reduce((s, r) => s + r.requests, 0)).toBe(400);
    expect(shifted.map((r) => r.group)).toContain('2026-11-11');
    shanghai.close();

    const back = new SqliteStore({ path, timeZone: 'UTC' });
    expect(await fromRollups(back)).toEqual(raw);
    // A store opened without a zone (the keys CLI) keeps the configured one and rebuilds nothing.
    const cli = new SqliteStore({ path });
    expect(await fromRollups(cli)).toEqual(raw);
    cli.close();
    back.close();
  });

  it('add up the same, and charge each key its rows, when group commits write many rows at once', async () => {
    const clock = new SettableClock(START);
    const path = tempDb();
    const store = new SqliteStore({ path, now: () => clock.now(), holdsInMemory: true });
    const keyId = store.createKey({ name: 'alice' }).record.id;
    const rows = randomRows(400, seededRandom(11));
    for (let i = 0; i < rows.length; i += 40) {
      clock.set(rows[i]!.at);
      const batch = rows.slice(i, i + 40).map(({ row }) => ({ ...row, keyId }));
      // Settled without waiting in between: one group commit for the forty.
      await Promise.all(batch.map((row) => store.ledger.settle(null, row)));
    }
    expect(await fromRollups(store)).toEqual(fromRaw(store));
    const cost = rows.reduce((sum, { row }) => sum + row.costMicros, 0);
    expect(store.getKey('alice')!.usedMicros).toBe(cost);
    const fresh = new SqliteStore({ path });
    expect(fresh.getKey('alice')!.usedMicros).toBe(cost);
    fresh.close();
    store.close();
  });

  it('keep every day whole when the time zone changes after raw rows were pruned mid-day', async () => {
    const path = tempDb();
    const clock = new SettableClock(START);
    const store = new SqliteStore({ path, now: () => clock.now(), timeZone: 'UTC' });
    const rows = randomRows(400, seededRandom(11));
    for (const { at, row } of rows) {
      clock.set(at);
      store.recordUsage(row);
    }
    const before = await fromRollups(store);
    // Half way through a day in both zones: the earliest kept day is partial in each.
    expect(await store.admin.retention.pruneBefore(START + 3.5 * DAY, 10_000)).toBeGreaterThan(0);
    store.close();

    const total = async (s: SqliteStore) => {
      const days = await s.admin.usage.report({
        fromDay: '2026-10-31',
        toDay: '2026-11-12',
        groupBy: 'day',
      });
      return {
        requests: days.reduce((n, r) => n + r.requests, 0),
        cost: days.reduce((n, r) => n + r.costMicros, 0),
      };
    };
    const spent = rows.reduce((n, r) => n + r.row.costMicros, 0);
    const shanghai = new SqliteStore({ path, timeZone: 'Asia/Shanghai' });
    expect(await total(shanghai)).toEqual({ requests: 400, cost: spent });
    shanghai.close();
    const back = new SqliteStore({ path, timeZone: 'UTC' });
    expect(await total(back)).toEqual({ requests: 400, cost: spent });
    expect(await fromRollups(back)).toEqual(before);
    back.close();
  });

  it('are built from the rows of a database made before they existed, which also gains the error text column', async () => {
    const path = tempDb();
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE usage (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, key_id INTEGER,
      key_name TEXT, endpoint TEXT NOT NULL, model TEXT, upstream_model TEXT, channel TEXT,
      status INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
      cost_micros INTEGER NOT NULL, latency_ms INTEGER NOT NULL, ttfb_ms INTEGER, source TEXT NOT NULL,
      error_code TEXT, detail TEXT, created_at INTEGER NOT NULL)`);
    const insert = old.prepare(
      `INSERT INTO usage (request_id, key_id, key_name, endpoint, model, channel, status, prompt_tokens,
        completion_tokens, cost_micros, latency_ms, source, created_at)
       VALUES (?, 1, ?, '/chat/completions', 'gpt-4o', 'a', 200, 10, 5, ?, 100, 'upstream', ?)`,
    );
    insert.run('req_1', 'alice', 1000, START + 1000);
    insert.run('req_2', 'alice', 2000, START + DAY + 1000);
    insert.run('req_3', 'bob', 4000, START + DAY + 2000);
    old.close();

    const store = new SqliteStore({ path, timeZone: 'UTC' });
    const days = await store.admin.usage.report({
      fromDay: '2026-11-01',
      toDay: '2026-11-02',
      groupBy: 'day',
    });
    expect(days.map((d) => [d.group, d.requests, d.costMicros])).toEqual([
      ['2026-11-01', 1, 1000],
      ['2026-11-02', 2, 6000],
    ]);
    store.recordUsage({
      requestId: 'req_4',
      keyId: 1,
      keyName: 'alice',
      endpoint: '/chat/completions',
      model: 'gpt-4o',
      upstreamModel: null,
      channel: null,
      status: 504,
      promptTokens: 0,
      completionTokens: 0,
      costMicros: 0,
      latencyMs: 60_000,
      ttfbMs: null,
      source: 'none',
      errorCode: 'upstream_timeout',
      errorMessage: 'No upstream answered within the time budget.',
    });
    expect(store.listUsage({ limit: 1 })[0]!.errorMessage).toBe(
      'No upstream answered within the time budget.',
    );
    store.close();
  });
});

describe('usage retention', () => {
  it('prunes raw rows older than retainDays in small batches and keeps the rollups', async () => {
    const clock = new SettableClock(START);
    const store = new SqliteStore({ path: tempDb(), now: () => clock.now() });
    const rows = randomRows(50, seededRandom(3));
    for (const { at, row } of rows) {
      clock.set(at);
      store.recordUsage(row);
    }
    clock.set(START + 10 * DAY);
    const before = await store.admin.usage.report({
      fromDay: '2026-10-01',
      toDay: '2026-12-01',
      groupBy: 'key',
    });
    const cutoff = START + 5 * DAY;
    const old = rows.filter((r) => r.at < cutoff).length;
    expect(old).toBeGreaterThan(6);

    expect(await store.admin.retention.pruneBefore(cutoff, 3)).toBe(3);
    const pruner = startUsagePruner({
      retention: store.admin.retention,
      retainDays: 5,
      clock,
      logger: quiet,
      batchSize: 2,
      pauseMs: 1,
      firstPassAfterMs: 60_000,
    });
    expect(await pruner.pass()).toBe(old - 3);
    await pruner.stop();

    const left = store.listUsage({ limit: 1000 });
    expect(left).toHaveLength(50 - old);
    expect(left.every((r) => r.createdAt >= cutoff)).toBe(true);
    expect(
      await store.admin.usage.report({
        fromDay: '2026-10-01',
        toDay: '2026-12-01',
        groupBy: 'key',
      }),
    ).toEqual(before);
    store.close();
  });

  it('leaves key totals (billing usage, keys usage) as they were once raw rows are pruned mid-day', async () => {
    const clock = new SettableClock(START);
    const store = new SqliteStore({ path: tempDb(), now: () => clock.now(), timeZone: 'UTC' });
    const alice = store.createKey({ name: 'alice', quotaUsd: null, models: ['*'] }).record;
    const rows = randomRows(300, seededRandom(5));
    for (const { at, row } of rows) {
      clock.set(at);
      store.recordUsage({ ...row, keyId: alice.id, keyName: 'alice' });
    }
    clock.set(START + 10 * DAY);
    const totals = () => ({
      ever: store.usageTotalMicros(alice.id, 0, Number.MAX_SAFE_INTEGER),
      fromDay2: store.usageTotalMicros(alice.id, START + 2 * DAY, START + 11 * DAY),
      summary: store.usageSummary({ keyName: 'alice', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }),
      all: store.usageSummary({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }),
    });
    const before = totals();
    expect(before.ever).toBe(rows.reduce((n, r) => n + r.row.costMicros, 0));
    // Half way through day 3: days 0-2 are gone, day 3 only partly kept.
    expect(await store.admin.retention.pruneBefore(START + 3.5 * DAY, 10_000)).toBeGreaterThan(0);
    expect(totals()).toEqual(before);
    // A range inside the kept rows is still answered to the millisecond.
    const t = START + 6.25 * DAY;
    const exact = rows
      .filter((r) => r.at >= t && r.at < t + DAY)
      .reduce((n, r) => n + r.row.costMicros, 0);
    expect(store.usageTotalMicros(alice.id, t, t + DAY)).toBe(exact);
    store.close();
  });
});
