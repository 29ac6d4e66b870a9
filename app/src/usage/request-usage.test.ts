import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { RequestRecord } from '../types.ts';
import { RequestUsage } from './request-usage.ts';

function setup(quotaUsd: number | null) {
  const store = new SqliteStore({ path: ':memory:' });
  const key = store.upsertKey({ name: 'k', key: 'sk-usage-0123456789abcdef', quotaUsd });
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
    leaseMs: 60_000,
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

  it('refuses a hold the quota cannot cover, and a key without a quota holds nothing', async () => {
    const poor = setup(0.0001);
    expect(await poor.usage.hold(1_000)).toBe(false);
    const rich = setup(null);
    expect(await rich.usage.hold(1_000_000)).toBe(true);
    expect(rich.store.getKey('k')!.reservedMicros).toBe(0);
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
});
