import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-frank-0123456789abcdef';

describe('quota under concurrency', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    // Each request costs 10 × $1 + 100 × $1 per 1M = $0.00011; its hold covers the prompt estimate + max_tokens.
    upstream = await startOpenAiUpstream({
      apiKey: 'up',
      promptTokens: 10,
      completionTokens: 100,
      chunkDelayMs: 1,
    });
    t = await startTestRelay({
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
      keys: [{ name: 'frank', key: KEY, quota: 0.002 }],
      prices: { m: { input: 1, output: 1 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('100 parallel requests on a key with a small quota never overspend, and every request leaves a usage row', async () => {
    const send = (i: number) =>
      fetch(`${t.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        // short prompts so the prompt estimate stays under 100 tokens
        body: JSON.stringify({
          model: 'm',
          max_tokens: 100,
          stream: i % 2 === 0,
          messages: [{ role: 'user', content: `#${i}` }],
        }),
      }).then(async (res) => ({ status: res.status, text: await res.text() }));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => send(i)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(100);
    expect(refused.every((r) => r.text.includes('insufficient_quota'))).toBe(true);
    // $0.002 / $0.00011 = at most 18 requests can be paid for; holds are larger, so fewer get in
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(18);

    const store = t.store();
    const rows = await eventually(() => {
      const r = store.listUsage({ limit: 500 });
      expect(r).toHaveLength(100);
      return r;
    });
    const key = store.getKey('frank')!;
    expect(key.usedMicros).toBeLessThanOrEqual(key.quotaMicros!);
    expect(key.usedMicros).toBe(rows.reduce((s, r) => s + r.costMicros, 0));
    expect(key.usedMicros).toBe(ok.length * 110);
    expect(key.reservedMicros).toBe(0);
    expect(rows.filter((r) => r.status === 429)).toHaveLength(refused.length);
  });
});

describe('holds while a request runs', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;
  const LIMITED = 'sk-limited-0123456789abcdef';
  const UNLIMITED = 'sk-unlimited-0123456789abcdef';
  const ADMIN_KEY = 'admin-holds-0123456789abcdef';

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up', promptTokens: 10, completionTokens: 10 });
    t = await startTestRelay({
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
      keys: [
        { name: 'limited', key: LIMITED, quota: 1 },
        { name: 'unlimited', key: UNLIMITED },
      ],
      prices: { m: { input: 1, output: 1 } },
      admin: { keys: [{ name: 'ops', key: ADMIN_KEY }] },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  /**
   * The key as the relay's admin API shows it: a single relay keeps its holds in memory, so
   * only the relay itself can tell what is held (a second handle on the file sees none).
   */
  async function keyFacts(name: string) {
    const res = await fetch(`${t.baseUrl}/admin/api/keys/${name}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const key = (await res.json()) as { reservedUsd: number; usedUsd: number };
    return { reserved: Math.round(key.reservedUsd * 1e6), used: Math.round(key.usedUsd * 1e6) };
  }

  /** What the key holds while the upstream sits on its answer, then after it. */
  async function holdDuring(secret: string, name: string) {
    let release!: () => void;
    const answered = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atUpstream = new Promise<void>((r) => (reached = r));
    upstream.overrides.push(async () => {
      reached();
      await answered;
      return false;
    });
    const res = fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    await atUpstream;
    const during = (await keyFacts(name)).reserved;
    release();
    expect((await res).status).toBe(200);
    const after = await keyFacts(name);
    // The file agrees once the row and charge, written behind the answer, are committed.
    await eventually(() =>
      expect(t.store().getKey(name)).toMatchObject({ usedMicros: after.used, reservedMicros: 0 }),
    );
    return { during, after: after.reserved, used: after.used };
  }

  it('a key with a quota holds its estimate until the answer is settled', async () => {
    const r = await holdDuring(LIMITED, 'limited');
    expect(r.during).toBeGreaterThan(0);
    expect(r).toMatchObject({ after: 0, used: 20 });
  });

  it('a key without a quota holds nothing (no write before the upstream call), and is still billed', async () => {
    const r = await holdDuring(UNLIMITED, 'unlimited');
    expect(r).toEqual({ during: 0, after: 0, used: 20 });
  });
});
