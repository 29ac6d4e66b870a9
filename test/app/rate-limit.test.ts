import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../app/src/app.ts';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createInflightTracker } from '../../app/src/inflight.ts';
import { createLogger } from '../../app/src/logger.ts';
import { SqliteRateWindows } from '../../app/src/ratelimit/sqlite.ts';
import { memoryRateWindows } from '../../app/src/ratelimit/window.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import type { RateWindows } from '../../app/src/store/types.ts';
import { idle } from '../fixtures/idle.ts';
import { ManualClock } from '../fixtures/manual-clock.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';

const LIMITED = 'sk-limited-0123456789abcdef';
const FREE = 'sk-free-0123456789abcdefgh';
const TOKENS = 'sk-tokens-0123456789abcdef';

/** Seconds in an OpenAI reset header ("20ms", "45s", "1m30s"), rounded up like Retry-After. */
function resetSeconds(header: string | null): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(header ?? '');
  if (!header || !m) throw new Error(`not a reset header: ${header}`);
  const [h, min, sec, ms] = m.slice(1).map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return Math.max(1, Math.ceil(h * 3600 + min * 60 + sec + ms / 1000));
}

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'rate-windows-')), 'relay.db');

/** The same rules whether the counters live in memory or in the SQLite file cluster workers share. */
const WINDOWS: [string, () => RateWindows & { close?(): void }][] = [
  ['in memory (one process)', () => memoryRateWindows()],
  ['shared in SQLite (cluster workers)', () => new SqliteRateWindows({ path: tempDb() })],
];

describe.each(WINDOWS)(
  'requests and tokens per minute per key, counted %s',
  (_name, makeWindows) => {
    let upstream: FakeUpstream;
    let store: SqliteStore;
    let clock: ManualClock;
    let app: ReturnType<typeof createApp>;
    const inflight = createInflightTracker();

    beforeAll(async () => {
      upstream = await startOpenAiUpstream({ apiKey: 'up' });
      store = new SqliteStore({ path: ':memory:', rates: makeWindows() });
      store.upsertKey({ name: 'limited', key: LIMITED, rpm: 3 });
      store.upsertKey({ name: 'free', key: FREE });
      // The fake upstream answers every request with 11 + 7 = 18 tokens.
      store.upsertKey({ name: 'tokens', key: TOKENS, tpm: 40 });
      clock = new ManualClock();
      const config = parseRelayConfig(
        { channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }] },
        {},
      );
      const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      app = createApp({ config, store, logger, clock, inflight });
    });
    afterAll(async () => {
      await store?.close();
      await upstream?.close();
    });

    /** An answer, once its row and tokens (counted behind the answer) are committed too. */
    const chat = async (key: string) => {
      const res = await app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      await idle(inflight);
      return res;
    };

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
      expect(resetSeconds(refused.headers.get('x-ratelimit-reset-requests'))).toBe(wait);
      await clock.advance(wait * 1000 - 1500);
      expect((await chat(burst)).status).toBe(429);
      await clock.advance(1500);
      expect((await chat(burst)).status).toBe(200);
    });

    it('counts settled tokens, and refuses up front once the minute is full, with the -tokens headers', async () => {
      await clock.advance(10 * 60_000);
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await chat(TOKENS);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('40');
        remaining.push(res.headers.get('x-ratelimit-remaining-tokens')!);
        // No rpm on this key: no -requests headers.
        expect(res.headers.get('x-ratelimit-limit-requests')).toBeNull();
      }
      // Before each request: 40 - 0, 40 - 18, 40 - 36 (the third still fits: the window is not full).
      expect(remaining).toEqual(['40', '22', '4']);
      const refused = await chat(TOKENS);
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0);
      expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      expect(resetSeconds(refused.headers.get('x-ratelimit-reset-tokens'))).toBe(wait);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('rate_limit_exceeded');
      expect(body.error.message).toContain('40 tokens per minute');
      // Refused requests add nothing: waiting as long as Retry-After says lets the next one in.
      await clock.advance(wait * 1000);
      expect((await chat(TOKENS)).status).toBe(200);
    });

    it('a refusal reports the real room left in the window that did not refuse, and resets for every full one', async () => {
      await clock.advance(10 * 60_000);
      // 18 tokens a request: two fill 30 tokens a minute, long before 5 requests.
      store.upsertKey({ name: 'rt', key: 'sk-rt-0123456789abcdefgh', rpm: 5, tpm: 30 });
      for (let i = 0; i < 2; i++) expect((await chat('sk-rt-0123456789abcdefgh')).status).toBe(200);
      const byTokens = await chat('sk-rt-0123456789abcdefgh');
      expect(byTokens.status).toBe(429);
      expect(byTokens.headers.get('x-ratelimit-remaining-requests')).toBe('3');
      expect(byTokens.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      expect(byTokens.headers.get('x-ratelimit-reset-requests')).toBeNull();
      expect(resetSeconds(byTokens.headers.get('x-ratelimit-reset-tokens'))).toBe(
        Number(byTokens.headers.get('retry-after')),
      );
      // Both full: both resets, Retry-After the later of the two.
      store.upsertKey({ name: 'both', key: 'sk-both-0123456789abcdefg', rpm: 2, tpm: 30 });
      for (let i = 0; i < 2; i++)
        expect((await chat('sk-both-0123456789abcdefg')).status).toBe(200);
      const both = await chat('sk-both-0123456789abcdefg');
      expect(both.status).toBe(429);
      expect(both.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const resets = ['requests', 'tokens'].map((w) =>
        resetSeconds(both.headers.get(`x-ratelimit-reset-${w}`)),
      );
      expect(Math.max(...resets)).toBe(Number(both.headers.get('retry-after')));
    });
  },
);

describe('rpm and tpm across two cluster workers sharing one SQLite file', () => {
  let upstream: FakeUpstream;
  const stores: SqliteStore[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
    await upstream?.close();
  });

  it('admits exactly the limit between the workers, whichever takes each request', async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up' });
    const path = tempDb();
    const clock = new ManualClock();
    const config = parseRelayConfig(
      { channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }] },
      {},
    );
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    // Two workers: each its own connections to the one file, as server.ts opens them.
    const apps = [0, 1].map(() => {
      const store = new SqliteStore({
        path,
        now: () => clock.now(),
        rates: new SqliteRateWindows({ path }),
      });
      stores.push(store);
      const inflight = createInflightTracker();
      return { app: createApp({ config, store, logger, clock, inflight }), inflight };
    });
    stores[0]!.upsertKey({ name: 'rpm', key: LIMITED, rpm: 5 });
    stores[0]!.upsertKey({ name: 'tpm', key: TOKENS, tpm: 60 });
    /** An answer from worker i % 2, once its tokens (counted behind the answer) are too. */
    const chat = async (i: number, key: string) => {
      const { app, inflight } = apps[i % 2]!;
      const res = await app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      await idle(inflight);
      return res;
    };
    const rpm = await Promise.all(Array.from({ length: 12 }, (_, i) => chat(i, LIMITED)));
    expect(rpm.filter((r) => r.status === 200)).toHaveLength(5);
    expect(rpm.filter((r) => r.status === 429)).toHaveLength(7);
    // 18 tokens a request: 0, 18, 36, 54 fit under 60 one after the other, whichever worker
    // settled the one before; the fifth finds the window full.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat(i, TOKENS)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });
});

describe('rate windows shared through one SQLite file', () => {
  it('two connections (as two workers hold) admit exactly rpm between them, and agree on the wait', async () => {
    const path = tempDb();
    const a = new SqliteRateWindows({ path });
    const b = new SqliteRateWindows({ path });
    try {
      const t = 1_000_000;
      const limits = { rpm: 5, tpm: null };
      const admitted = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).hit(7, limits, t + i)),
      );
      expect(admitted.filter((x) => x.admitted)).toHaveLength(5);
      const refusedA = await a.hit(7, limits, t + 20);
      const refusedB = await b.hit(7, limits, t + 20);
      expect(refusedA).toMatchObject({ admitted: false, refusedBy: 'requests' });
      expect(refusedB.waitMs).toBe(refusedA.waitMs);
      // Another key has its own window.
      expect((await a.hit(8, limits, t + 20)).admitted).toBe(true);
      // A minute later, with the previous minute weighing almost nothing, the next one fits.
      expect((await b.hit(7, limits, t + 2 * 60_000)).admitted).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });
});
