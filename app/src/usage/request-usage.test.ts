import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createInflightTracker } from '../inflight.ts';
import { createLogger } from '../logger.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { InflightTracker, RequestRecord } from '../types.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { RequestUsage } from './request-usage.ts';

function setup(
  quotaUsd: number | null,
  leases = new LeaseKeeper(60_000),
  tpm: number | null = null,
  inflight?: InflightTracker,
  holdsInMemory = false,
) {
  const store = new SqliteStore({ path: ':memory:', holdsInMemory });
  const key = store.upsertKey({ name: 'k', key: 'sk-usage-0123456789abcdef', quotaUsd, tpm });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  });
  const record: RequestRecord = { startedAt: 0, startedAtHr: 0, upstreamWaitMs: 0, model: 'm' };
  const usage = new RequestUsage({
    store,
    logger,
    key,
    record,
    requestId: 'req_1',
    endpoint: '/messages',
    now: () => 5,
    leases,
    inflight,
  });
  return { store, usage, record, lines, key };
}

describe('RequestUsage', () => {
  it('holds, then writes exactly one row and settles the hold, however often it is finished', async () => {
    const { store, usage } = setup(1);
    usage.price = { input: 1, output: 2, cacheRead: 0.1 };
    expect(await usage.hold(500)).toBe(true);
    expect(store.getKey('k')!.reservedMicros).toBe(500);
    const done = {
      promptTokens: 100,
      completionTokens: 10,
      cacheReadTokens: 50,
      reasoningTokens: 4,
    };
    await usage.finish({ status: 200, usage: done, source: 'upstream' });
    await usage.finish({ status: 200, usage: done, source: 'upstream' });
    await usage.finishUnanswered(500, 'server_error');
    const rows = store.listUsage();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      endpoint: '/messages',
      status: 200,
      cacheReadTokens: 50,
      reasoningTokens: 4,
      costMicros: 50 + 5 + 20,
      latencyMs: 5,
    });
    expect(store.getKey('k')).toMatchObject({ reservedMicros: 0, usedMicros: 75 });
  });

  it('stays in flight until its row is committed, its hold counting until then', async () => {
    const inflight = createInflightTracker();
    const { store, usage } = setup(1, undefined, null, inflight);
    usage.price = { input: 1, output: 1 };
    expect(await usage.hold(500)).toBe(true);
    // Not awaited, as an answer that goes out first: the row waits for the group commit.
    void usage.finish({
      status: 200,
      usage: { promptTokens: 100, completionTokens: 100 },
      source: 'upstream',
    });
    expect(store.listUsage()).toHaveLength(0);
    expect(store.getKey('k')).toMatchObject({ reservedMicros: 500, usedMicros: 0 });
    expect(inflight.size).toBe(1);
    // What a graceful shutdown waits for.
    expect(await inflight.drain(1_000)).toBe(true);
    expect(store.listUsage()).toHaveLength(1);
    expect(store.getKey('k')).toMatchObject({ reservedMicros: 0, usedMicros: 200 });
  });

  it('refuses a hold the quota cannot cover, and a key without a quota holds nothing', async () => {
    const poor = setup(0.0001);
    expect(await poor.usage.hold(1_000)).toBe(false);
    const rich = setup(null);
    expect(await rich.usage.hold(1_000_000)).toBe(true);
    expect(rich.store.getKey('k')!.reservedMicros).toBe(0);
  });

  it('decides a hold in the same turn when the ledger can (holds in memory), else by a promise', async () => {
    const inMemory = (quotaUsd: number) => setup(quotaUsd, undefined, null, undefined, true);
    const held = inMemory(1);
    expect(held.usage.hold(500)).toBe(true);
    expect(held.store.ledger.reserveNow?.(held.key.id, 1_000_000, 1000)).toBeNull();
    expect(inMemory(0.0001).usage.hold(1_000)).toBe(false);
    const asRows = setup(1).usage.hold(500);
    expect(asRows).toBeInstanceOf(Promise);
    expect(await asRows).toBe(true);
    // Paused (a relay rejoining the lock): the hold waits for the resume, never decided now.
    const paused = inMemory(1);
    const resume = paused.store.pauseHolds();
    const waiting = paused.usage.hold(500);
    expect(waiting).toBeInstanceOf(Promise);
    await new Promise((r) => setTimeout(r, 10));
    expect(paused.store.ledger.reserveNow?.(paused.key.id, 1, 1000)).toBeUndefined();
    resume();
    expect(await waiting).toBe(true);
    // A closed store says so in the turn too, as reserve's rejection would.
    held.store.closeNow();
    expect(() => held.usage.hold(500)).toThrow(/closed/);
  });

  it('bills a failed request nothing unless it streamed part of an answer', async () => {
    const failed = setup(1);
    failed.usage.price = { input: 1, output: 1 };
    await failed.usage.finish({
      status: 502,
      usage: { promptTokens: 9, completionTokens: 9 },
      source: 'none',
    });
    expect(failed.store.listUsage()[0]!.costMicros).toBe(0);
    const partial = setup(1);
    partial.usage.price = { input: 1, output: 1 };
    await partial.usage.finish({
      status: 502,
      usage: { promptTokens: 9, completionTokens: 9 },
      source: 'partial',
    });
    expect(partial.store.listUsage()[0]!.costMicros).toBe(18);
  });

  it('gives the hold back and says so when the row cannot be written', async () => {
    const { store, usage, lines } = setup(1);
    expect(await usage.hold(400)).toBe(true);
    // The row cannot be written (a full disk, a locked database): the store refuses it.
    store.settleSoon = () => Promise.reject(new Error('disk I/O error'));
    await usage.finish({
      status: 200,
      usage: { promptTokens: 1, completionTokens: 1 },
      source: 'upstream',
    });
    expect(lines.some((l) => l.msg === 'failed to write usage row')).toBe(true);
    expect(store.getKey('k')!.reservedMicros).toBe(0);
  });

  it('keeps its hold while it runs past the lease, with one shared timer, until it finishes', async () => {
    // A 90 ms lease renewed every 30 ms, on the real clock.
    const leases = new LeaseKeeper(90);
    const { store, usage, key } = setup(0.001, leases);
    const other = setup(0.001, leases);
    expect(await usage.hold(600)).toBe(true);
    expect(await other.usage.hold(100)).toBe(true);
    expect(leases.size).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    // Still held: what is left of the quota cannot take another 600.
    expect(await store.ledger.reserve(key.id, 600, 60_000)).toBeNull();
    await usage.finish({
      status: 200,
      usage: { promptTokens: 0, completionTokens: 0 },
      source: 'upstream',
    });
    await other.usage.finishUnanswered(499, 'client_closed');
    expect(leases.size).toBe(0);
    expect(store.getKey('k')).toMatchObject({ reservedMicros: 0, usedMicros: 0 });
  });

  it('never rejects when counting tokens fails, and still writes the row', async () => {
    const { store, usage, lines } = setup(1, undefined, 1000);
    // The shared rate windows cannot be written (another process holds the lock too long).
    store.rates.addTokens = () => Promise.reject(new Error('database is locked'));
    await expect(
      usage.finish({
        status: 200,
        usage: { promptTokens: 3, completionTokens: 4 },
        source: 'upstream',
      }),
    ).resolves.toBeUndefined();
    expect(store.listUsage()).toHaveLength(1);
    expect(lines.some((l) => l.msg === 'failed to count tokens')).toBe(true);
  });
});
