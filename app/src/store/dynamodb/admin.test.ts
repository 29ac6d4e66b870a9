import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite } from '../../../../test/fixtures/dynalite.ts';
import type { Dynalite } from '../../../../test/fixtures/dynalite.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db.close());

describe('DynamoDB admin store', () => {
  it('keeps an audit log, newest first, filtered by action and paged by cursor', async () => {
    const store = await db.store();
    const base = { actor: 'root', target: 'k', requestId: 'r', ip: null };
    await store.admin.audit.append({
      ...base,
      at: 1000,
      action: 'key.create',
      before: null,
      after: { name: 'k' },
    });
    await store.admin.audit.append({
      ...base,
      at: 2000,
      action: 'key.update',
      before: { a: 1 },
      after: { a: 2 },
    });
    await store.admin.audit.append({
      ...base,
      at: 3000,
      action: 'key.update',
      before: { a: 2 },
      after: { a: 3 },
    });
    const first = await store.admin.audit.list({ action: 'key.update', limit: 1 });
    expect(first.rows.map((r) => [r.at, r.after])).toEqual([[3000, { a: 3 }]]);
    const second = await store.admin.audit.list({
      action: 'key.update',
      limit: 1,
      cursor: first.next!,
    });
    expect(second.rows.map((r) => r.at)).toEqual([2000]);
    expect((await store.admin.audit.list({ limit: 10 })).rows.map((r) => r.action)).toEqual([
      'key.update',
      'key.update',
      'key.create',
    ]);
    await store.close();
  });

  it('keeps channel overrides, sessions until they end, and login failures per scope', async () => {
    const store = await db.store();
    await store.admin.channels.set({ channel: 'a', enabled: false, actor: 'root', at: 1 });
    await store.admin.channels.set({ channel: 'b', enabled: true, actor: 'root', at: 2 });
    await store.admin.channels.clear('b');
    expect(await store.admin.channels.list()).toEqual([
      { channel: 'a', enabled: false, actor: 'root', at: 1 },
    ]);

    const session = {
      idHash: 'h1',
      admin: 'root',
      keyTag: 't',
      csrfToken: 'c',
      createdAt: 1000,
      expiresAt: 5000,
    };
    await store.admin.sessions.create(session);
    expect(await store.admin.sessions.find('h1', 4999)).toEqual(session);
    expect(await store.admin.sessions.find('h1', 5000)).toBeNull();
    await store.admin.sessions.delete('h1');
    expect(await store.admin.sessions.find('h1', 2000)).toBeNull();

    await store.admin.throttle.recordFailure('1.2.3.4', 1000);
    await store.admin.throttle.recordFailure('1.2.3.4', 2000);
    await store.admin.throttle.recordFailure('5.6.7.8', 2000);
    expect(await store.admin.throttle.failures('1.2.3.4', 1500)).toBe(1);
    expect(await store.admin.throttle.failures('1.2.3.4', 0)).toBe(2);
    await store.admin.throttle.clear('1.2.3.4');
    expect(await store.admin.throttle.failures('1.2.3.4', 0)).toBe(0);
    expect(await store.admin.throttle.failures('5.6.7.8', 0)).toBe(1);
    await store.close();
  });

  it('answers request lists, live stats and channel stats from raw rows', async () => {
    const store = await db.store();
    const base = {
      keyId: null,
      keyName: 'k',
      endpoint: '/v1/chat/completions',
      model: 'm',
      upstreamModel: 'm',
      promptTokens: 1,
      completionTokens: 1,
      costMicros: 5,
      ttfbMs: 10,
      source: 'upstream' as const,
      errorCode: null,
    };
    const t0 = Date.now();
    for (let i = 0; i < 5; i++)
      await store.usage.record({
        ...base,
        requestId: `q${i}`,
        channel: i % 2 ? 'b' : 'a',
        status: i === 4 ? 502 : 200,
        latencyMs: 100 + i,
      });
    const t1 = Date.now() + 1;
    const page = await store.admin.usage.requests({ limit: 2 });
    expect(page.rows.map((r) => r.requestId)).toEqual(['q4', 'q3']);
    const next = await store.admin.usage.requests({ limit: 10, cursor: page.next! });
    expect(next.rows.map((r) => r.requestId)).toEqual(['q2', 'q1', 'q0']);
    expect(next.next).toBeNull();
    expect(
      (await store.admin.usage.requests({ limit: 10, status: 'error' })).rows.map(
        (r) => r.requestId,
      ),
    ).toEqual(['q4']);
    const live = await store.admin.usage.live({ fromMs: t0 - 1000, toMs: t1, bucketMs: 60_000 });
    expect(live).toMatchObject({
      requests: 5,
      errors: 1,
      serverErrors: 1,
      costMicros: 25,
      latencyMs: { p50: 101, p99: 103 },
    });
    const channels = await store.admin.usage.channels({ fromMs: t0 - 1000, toMs: t1 });
    expect(channels.map((c) => [c.channel, c.requests, c.errors])).toEqual([
      ['a', 3, 1],
      ['b', 2, 0],
    ]);
    const exported: string[] = [];
    for await (const rows of store.admin.usage.exportRows({
      fromMs: t0 - 1000,
      toMs: t1,
      channel: 'b',
    }))
      exported.push(...rows.map((r) => r.requestId));
    expect(exported).toEqual(['q1', 'q3']);
    await store.close();
  });
});
