import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiError, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-erin-0123456789abcdef';
const POOR = 'sk-poor-0123456789abcdef';
const OFF = 'sk-off-0123456789abcdefgh';
const OLD = 'sk-old-0123456789abcdefgh';
const NARROW = 'sk-narrow-0123456789abcdef';

describe('every failure is a contract error, never a 500', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up-key-123' });
    t = await startTestRelay({
      server: { bodyLimitBytes: 64 * 1024 },
      channels: [
        {
          name: 'main',
          baseUrl: upstream.url,
          apiKey: 'up-key-123',
          models: ['gpt-4o', 'gpt-4o-mini'],
        },
      ],
      keys: [
        { name: 'erin', key: KEY, quota: 5 },
        { name: 'poor', key: POOR, quota: 0.000001 },
        { name: 'off', key: OFF, enabled: false },
        { name: 'old', key: OLD, expiresAt: '2001-01-01' },
        { name: 'narrow', key: NARROW, models: ['gpt-4o-mini'] },
      ],
      prices: { 'gpt-4o': { input: 2.5, output: 10 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const post = async (
    body: string,
    headers: Record<string, string> = {},
    path = '/v1/chat/completions',
  ) => {
    const res = await fetch(`${t.baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      requestId: res.headers.get('x-request-id'),
      body: JSON.parse(text) as { error: Record<string, unknown>; request_id: string },
    };
  };
  const chat = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...extra });

  const cases: [string, number, string, () => Promise<Awaited<ReturnType<typeof post>>>][] = [
    ['malformed JSON', 400, 'invalid_request_error', () => post('{"model": "gpt-4o", ')],
    ['a body that is not an object', 400, 'invalid_value', () => post('[1,2,3]')],
    [
      'wrong content type',
      415,
      'unsupported_media_type',
      () => post(chat(), { 'content-type': 'text/plain' }),
    ],
    [
      'missing model',
      400,
      'missing_required_parameter',
      () => post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })),
    ],
    [
      'missing messages',
      400,
      'missing_required_parameter',
      () => post(JSON.stringify({ model: 'gpt-4o' })),
    ],
    [
      'messages of the wrong type',
      400,
      'invalid_value',
      () =>
        post(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: { a: 1 } }] })),
    ],
    ['unknown model', 404, 'model_not_found', () => post(chat({ model: 'gpt-9' }))],
    [
      'a model the key may not use',
      404,
      'model_not_found',
      () => post(chat(), { authorization: `Bearer ${NARROW}` }),
    ],
    ['no key', 401, 'invalid_api_key', () => post(chat(), { authorization: '' })],
    [
      'a wrong key',
      401,
      'invalid_api_key',
      () => post(chat(), { authorization: 'Bearer sk-nope-000000000000000' }),
    ],
    [
      'a disabled key',
      401,
      'invalid_api_key',
      () => post(chat(), { authorization: `Bearer ${OFF}` }),
    ],
    [
      'an expired key',
      401,
      'invalid_api_key',
      () => post(chat(), { authorization: `Bearer ${OLD}` }),
    ],
    [
      'exhausted quota',
      429,
      'insufficient_quota',
      () => post(chat({ max_tokens: 100 }), { authorization: `Bearer ${POOR}` }),
    ],
    [
      'an oversize body',
      413,
      'request_too_large',
      () => post(chat({ pad: 'x'.repeat(100 * 1024) })),
    ],
    ['an unknown endpoint', 404, 'not_found', () => post(chat(), {}, '/v1/fine_tuning/jobs')],
  ];

  it.each(cases)('%s → %i %s', async (_name, status, code, send) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code, message: expect.any(String) });
    expect(res.body.error.message).not.toBe('');
    expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(res.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.body.request_id).toBe(res.requestId);
  });

  it('a streamed request over a small quota is refused before anything is sent upstream', async () => {
    const before = upstream.requests.length;
    const res = await post(chat({ stream: true }), { authorization: `Bearer ${POOR}` });
    expect(res.status).toBe(429);
    expect(upstream.requests.length).toBe(before);
  });

  it('the SDK surfaces those errors as typed exceptions', async () => {
    const client = t.client(KEY);
    await expect(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(t.client('sk-wrong-wrong-wrong-wrong').models.list()).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    await expect(
      t.client(POOR).chat.completions.create({
        model: 'gpt-4o',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
  });

  it('an upstream 400 reaches the client as a 400 with the upstream message, not retried', async () => {
    upstream.overrides.push((_req, res) => {
      openAiError(res, 400, "Invalid value for 'temperature': must be <= 2.", 'invalid_value');
      return true;
    });
    const before = upstream.requests.length;
    const res = await post(chat({ temperature: 5 }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'invalid_value',
      message: "Invalid value for 'temperature': must be <= 2.",
    });
    expect(upstream.requests.length).toBe(before + 1);
  });

  it('an upstream that keeps failing with 500 becomes a 502 after its retries, at no cost to the key', async () => {
    for (let i = 0; i < 2; i++) {
      upstream.overrides.push((_req, res) => {
        openAiError(res, 500, 'The server had an error', null, 'server_error');
        return true;
      });
    }
    const res = await post(chat());
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_error');
    const store = t.store();
    const row = await eventually(() => {
      const r = store.listUsage({ limit: 1 })[0];
      expect(r?.requestId).toBe(res.requestId);
      return r!;
    });
    expect(row).toMatchObject({
      status: 502,
      costMicros: 0,
      errorCode: 'upstream_error',
      source: 'none',
    });
    expect(store.getKey('erin')!.reservedMicros).toBe(0);
  });

  it('an unreachable upstream is a 502, with every quota hold released', async () => {
    const dead = await startTestRelay({
      channels: [{ name: 'dead', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x', models: ['m'] }],
      keys: [{ name: 'k', key: KEY, quota: 1 }],
    });
    try {
      const res = await fetch(`${dead.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'upstream_unreachable',
      );
      expect(dead.store().getKey('k')!.reservedMicros).toBe(0);
    } finally {
      await dead.close();
    }
  });

  it('ignores a request id the client tries to choose', async () => {
    const res = await post(chat({ model: 'nope' }), { 'x-request-id': 'client-chosen' });
    expect(res.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.body.request_id).toBe(res.requestId);
  });

  it('holds quota for the largest token limit the request names, times its choices', async () => {
    // $0.000001 left cannot cover 100000 output tokens, whichever limit the provider honours
    const res = await post(chat({ max_completion_tokens: 1, max_tokens: 100_000, n: 8 }), {
      authorization: `Bearer ${POOR}`,
    });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('insufficient_quota');
  });

  it('every response, success included, carries x-request-id', async () => {
    for (const path of ['/healthz', '/v1/models', '/nowhere']) {
      const res = await fetch(`${t.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    }
  });
  // Last: a rejected provider key marks the channel dead, as it should, for the tests after it.
  it("an upstream 401 (the relay's provider key) becomes a 502, never the client's 401", async () => {
    upstream.overrides.push((_req, res) => {
      openAiError(res, 401, 'Incorrect API key provided: up-key-123', 'invalid_api_key');
      return true;
    });
    const res = await post(chat());
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_auth_failed');
    expect(JSON.stringify(res.body)).not.toContain('up-key-123');
  });
});
