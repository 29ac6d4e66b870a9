import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const LIMITED = 'sk-carol-0123456789abcdef';
const UNLIMITED = 'sk-dave-0123456789abcdef';

describe('balance endpoints chat clients read', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;
  const get = async (path: string, key: string) => {
    const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: 'up',
      promptTokens: 1000,
      completionTokens: 1000,
    });
    t = await startTestRelay({
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
      keys: [
        { name: 'carol', key: LIMITED, quota: 2.5, expiresAt: '2099-01-01' },
        { name: 'dave', key: UNLIMITED },
      ],
      prices: { m: { input: 1, output: 2 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('subscription reports the key quota as hard_limit_usd, unlimited as one-api does', async () => {
    const limited = await get('/v1/dashboard/billing/subscription', LIMITED);
    expect(limited.status).toBe(200);
    expect(limited.body).toMatchObject({
      object: 'billing_subscription',
      hard_limit_usd: 2.5,
      soft_limit_usd: 2.5,
      access_until: Date.parse('2099-01-01T00:00:00Z') / 1000,
    });
    const unlimited = await get('/dashboard/billing/subscription', UNLIMITED);
    expect(unlimited.body).toMatchObject({ hard_limit_usd: 100_000_000, access_until: 0 });
  });

  it('usage reports total_usage in US cents over the date range', async () => {
    await t
      .client(LIMITED)
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    // 1000 × $1/M + 1000 × $2/M = $0.003 = 0.3 cents
    const today = new Date().toISOString().slice(0, 10);
    const usage = await get(
      `/v1/dashboard/billing/usage?start_date=2020-01-01&end_date=2099-01-01`,
      LIMITED,
    );
    expect(usage.body).toEqual({ object: 'list', total_usage: 0.3 });
    const before = await get(
      `/v1/dashboard/billing/usage?start_date=2020-01-01&end_date=${today}`,
      LIMITED,
    );
    expect(before.body.total_usage).toBe(0);
    const other = await get('/v1/dashboard/billing/usage', UNLIMITED);
    expect(other.body.total_usage).toBe(0);
  });

  it('rejects a malformed date with a 400 in the contract shape', async () => {
    const bad = await get('/v1/dashboard/billing/usage?start_date=yesterday', LIMITED);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: { type: 'invalid_request_error', param: 'start_date' },
    });
  });
});
