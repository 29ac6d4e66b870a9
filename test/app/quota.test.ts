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
