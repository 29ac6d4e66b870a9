import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../app/src/app.ts';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/logger.ts';
import { SqliteRateWindows } from '../../app/src/ratelimit/sqlite.ts';
import { memoryRateWindows } from '../../app/src/ratelimit/window.ts';
import type { RateWindows } from '../../app/src/ratelimit/window.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { ManualClock } from '../fixtures/manual-clock.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';

const LIMITED = 'sk-limited-0123456789abcdef';
const FREE = 'sk-free-0123456789abcdefgh';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'rate-windows-')), 'relay.db');

/** The same rules whether the counters live in memory or in the SQLite file cluster workers share. */
const WINDOWS: [string, () => RateWindows][] = [
  ['in memory (one process)', () => memoryRateWindows()],
  ['shared in SQLite (cluster workers)', () => new SqliteRateWindows({ path: tempDb() })],
];

describe.each(WINDOWS)('requests per minute per key, counted %s', (_name, makeWindows) => {
  let upstream: FakeUpstream;
  let store: SqliteStore;
  let clock: ManualClock;
  let app: ReturnType<typeof createApp>;
  let windows: RateWindows;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up' });
    store = new SqliteStore({ path: ':memory:' });
    store.upsertKey({ name: 'limited', key: LIMITED, rpm: 3 });
    store.upsertKey({ name: 'free', key: FREE });
    clock = new ManualClock();
    const config = parseRelayConfig(
      { channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }] },
      {},
    );
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    windows = makeWindows();
    app = createApp({ config, store, logger, clock, rateWindows: windows });
  });
  afterAll(async () => {
    windows?.close?.();
    store?.close();
    await upstream?.close();
  });

  const chat = (key: string) =>
    app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });

  it('admits the limit, then answers 429 rate_limit_exceeded with Retry-After, leaving other keys alone', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await chat(LIMITED);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe(String(2 - i));
    }
    const refused = await chat(LIMITED);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({
      error: { code: 'rate_limit_exceeded', type: 'rate_limit_error' },
    });
    expect((await chat(FREE)).status).toBe(200);
    // refused requests still leave a usage row
    expect(store.listUsage({ limit: 1 })[0]).toMatchObject({ keyName: 'free' });
    expect(store.listUsage({ limit: 2 })[1]).toMatchObject({
      keyName: 'limited',
      status: 429,
      errorCode: 'rate_limit_exceeded',
    });
  });

  it('slides: half a minute into the next window, half of the last minute still counts', async () => {
    await clock.advance(90_000);
    // previous window: 3 requests × 0.5 overlap = 1.5, so one more fits and a second does not
    expect((await chat(LIMITED)).status).toBe(200);
    expect((await chat(LIMITED)).status).toBe(429);
    await clock.advance(60_000);
    expect((await chat(LIMITED)).status).toBe(200);
  });

  it('a client that waits exactly as long as Retry-After says is let in', async () => {
    store.upsertKey({ name: 'burst', key: 'sk-burst-0123456789abcdef', rpm: 2 });
    await clock.advance(10 * 60_000);
    const burst = 'sk-burst-0123456789abcdef';
    expect((await chat(burst)).status).toBe(200);
    expect((await chat(burst)).status).toBe(200);
    const refused = await chat(burst);
    expect(refused.status).toBe(429);
    const wait = Number(refused.headers.get('retry-after'));
    expect(refused.headers.get('x-ratelimit-reset-requests')).toBe(`${wait}s`);
    await clock.advance(wait * 1000 - 1500);
    expect((await chat(burst)).status).toBe(429);
    await clock.advance(1500);
    expect((await chat(burst)).status).toBe(200);
  });
});

describe('rate windows shared through one SQLite file', () => {
  it('two connections (as two workers hold) admit exactly rpm between them, and agree on the wait', () => {
    const path = tempDb();
    const a = new SqliteRateWindows({ path });
    const b = new SqliteRateWindows({ path });
    try {
      const t = 1_000_000;
      const admitted = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).hit(7, 5, t + i));
      expect(admitted.filter((x) => x.admitted)).toHaveLength(5);
      const refusedA = a.hit(7, 5, t + 20);
      const refusedB = b.hit(7, 5, t + 20);
      expect(refusedA).toMatchObject({ admitted: false });
      expect(refusedB.waitMs).toBe(refusedA.waitMs);
      // Another key has its own window.
      expect(a.hit(8, 5, t + 20).admitted).toBe(true);
      // A minute later, with the previous minute weighing almost nothing, the next one fits.
      expect(b.hit(7, 5, t + 2 * 60_000).admitted).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });
});
