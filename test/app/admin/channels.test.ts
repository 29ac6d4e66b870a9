import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiError, startOpenAiUpstream } from '../../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../../fixtures/openai-upstream.ts';
import { CHANNEL_LATENCY_SAMPLE } from '../../../app/src/store/sqlite-usage-queries.ts';
import { SettableClock, adminApp, answerOf, usageRow } from '../../fixtures/admin-app.ts';
import type { AdminApp } from '../../fixtures/admin-app.ts';

const CLIENT = 'sk-client-0123456789abcdef';
const PRIMARY_KEY = 'sk-primary-upstream-0123456789';

describe('channels through the admin API', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;
  let a: AdminApp;

  beforeAll(async () => {
    primary = await startOpenAiUpstream({ apiKey: PRIMARY_KEY, reply: 'from primary' });
    backup = await startOpenAiUpstream({ apiKey: 'backup-key', reply: 'from backup' });
    a = adminApp({
      channels: [
        { name: 'primary', baseUrl: primary.url, apiKey: PRIMARY_KEY, models: ['m'], priority: 0 },
        {
          name: 'backup',
          baseUrl: backup.url,
          apiKey: 'backup-key',
          models: ['m'],
          modelMap: { alias: 'm' },
          priority: 1,
        },
        { name: 'patterns', baseUrl: backup.url, apiKey: 'backup-key', models: ['gpt-*'] },
        {
          name: 'parked',
          baseUrl: backup.url,
          apiKey: 'backup-key',
          models: ['m'],
          enabled: false,
        },
      ],
      keys: [{ name: 'client', key: CLIENT }],
    });
  });
  afterAll(async () => {
    await primary?.close();
    await backup?.close();
  });

  /** A chat answer, once its usage row (written behind the answer) is committed too. */
  const chat = async (model = 'm') => {
    const answer = await answerOf(
      await a.app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      }),
    );
    await a.idle();
    return answer;
  };

  it('lists channels with their switch, circuit state and recent traffic', async () => {
    expect((await chat()).status).toBe(200);
    const res = await a.call('GET', '/channels');
    expect(res.status).toBe(200);
    const [p, b, , parked] = res.json.channels;
    expect(p).toMatchObject({
      name: 'primary',
      type: 'openai',
      priority: 0,
      configEnabled: true,
      enabled: true,
      override: null,
      state: 'ok',
      recent: { windowMinutes: 15, requests: 1, errors: 0, errorRate: 0, lastError: null },
    });
    expect(p.recent.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(b).toMatchObject({ name: 'backup', aliases: ['alias'], recent: { requests: 0 } });
    expect(parked).toMatchObject({ configEnabled: false, enabled: false, state: 'disabled' });
    // Never the provider key.
    expect(res.text).not.toContain(PRIMARY_KEY);
  });

  it('tests a channel now: one tiny request, its latency and the upstream answer, and no usage row', async () => {
    const before = (await a.call('GET', '/requests')).json.rows.length;
    const seen = primary.requests.length;
    const res = await a.call('POST', '/channels/primary/test', {});
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      ok: true,
      channel: 'primary',
      model: 'm',
      status: 200,
      answer: 'from primary',
      error: null,
    });
    expect(res.json.latencyMs).toBeGreaterThanOrEqual(0);
    expect(primary.requests.length).toBe(seen + 1);
    expect(primary.requests.at(-1)!.json).toMatchObject({ model: 'm', max_tokens: 16 });
    expect((await a.call('GET', '/requests')).json.rows.length).toBe(before);
    const audit = (await a.call('GET', '/audit?action=channel.test')).json.rows;
    expect(audit[0]).toMatchObject({
      actor: 'admin',
      target: 'primary',
      after: { model: 'm', ok: true, status: 200 },
    });

    // An alias is sent as its upstream name; a body is optional.
    const alias = await answerOf(
      await a.app.request('/admin/api/channels/backup/test', {
        method: 'POST',
        headers: { authorization: 'Bearer admin-key-0123456789abcdef' },
      }),
    );
    expect(alias.json).toMatchObject({ ok: true, model: 'm', answer: 'from backup' });
  });

  it("shows the upstream's error when a test fails, with the channel's key blanked out", async () => {
    primary.overrides.push((req, res) => {
      openAiError(
        res,
        401,
        `Incorrect API key provided: ${String(req.headers.authorization)}`,
        'invalid_api_key',
      );
      return true;
    });
    const res = await a.call('POST', '/channels/primary/test', { model: 'm' });
    expect(res.json).toMatchObject({ ok: false, status: 401, answer: null });
    expect(res.json.error).toContain('Incorrect API key provided: Bearer [redacted]');
    expect(res.text).not.toContain(PRIMARY_KEY);
  });

  it('asks for a model when a channel lists only patterns, and refuses one it does not serve', async () => {
    const patterns = await a.call('POST', '/channels/patterns/test', {});
    expect(patterns.status).toBe(400);
    expect(patterns.json.error).toMatchObject({
      param: 'model',
      message: expect.stringContaining('name the model'),
    });
    expect((await a.call('POST', '/channels/patterns/test', { model: 'gpt-4o' })).json.ok).toBe(
      true,
    );
    expect((await a.call('POST', '/channels/primary/test', { model: 'other' })).status).toBe(400);
    expect((await a.call('POST', '/channels/nope/test', {})).json.error.code).toBe(
      'channel_not_found',
    );
  });

  it('disables a channel at runtime: traffic fails over to the next one; enabling brings it back', async () => {
    const off = await a.call('PATCH', '/channels/primary', { enabled: false });
    expect(off.status).toBe(200);
    expect(off.json).toMatchObject({
      enabled: false,
      state: 'disabled',
      override: { enabled: false, by: 'admin' },
    });
    const served = await chat();
    expect(served.status).toBe(200);
    expect(served.json.choices[0].message.content).toBe('from backup');
    expect((await a.call('GET', '/requests?limit=1')).json.rows[0].channel).toBe('backup');

    const on = await a.call('PATCH', '/channels/primary', { enabled: true });
    expect(on.json).toMatchObject({ enabled: true, state: 'ok' });
    expect((await chat()).json.choices[0].message.content).toBe('from primary');

    const audit = (await a.call('GET', '/audit?limit=2')).json.rows;
    expect(audit.map((r: { action: string }) => r.action)).toEqual([
      'channel.enable',
      'channel.disable',
    ]);
    expect(audit[1]).toMatchObject({
      target: 'primary',
      before: { enabled: true },
      after: { enabled: false },
    });
  });

  it('leaves a channel parked in the config file to the config file', async () => {
    const res = await a.call('PATCH', '/channels/parked', { enabled: true });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('channel_disabled_in_config');
    expect((await a.call('PATCH', '/channels/nope', { enabled: false })).status).toBe(404);
    expect((await a.call('PATCH', '/channels/primary', { enabled: 'no' })).status).toBe(400);
  });

  it('keeps the error each failed request got, for the Requests page', async () => {
    expect((await chat('not-a-model')).status).toBe(404);
    primary.overrides.push((_req, res) => {
      openAiError(res, 400, 'max_tokens is too large for this model', 'invalid_request_error');
      return true;
    });
    expect((await chat()).status).toBe(400);
    const rows = (await a.call('GET', '/requests?status=error&limit=2')).json.rows;
    expect(rows[0]).toMatchObject({
      status: 400,
      errorMessage: 'max_tokens is too large for this model',
      channel: null,
    });
    expect(rows[1]).toMatchObject({
      status: 404,
      model: 'not-a-model',
      errorCode: 'model_not_found',
      errorMessage: expect.stringContaining('`not-a-model` does not exist'),
    });
  });
});

describe('recent channel traffic in a busy window', () => {
  it('counts every row and keeps the last error, with latency percentiles from the newest successes', async () => {
    const clock = new SettableClock(Date.parse('2026-11-22T12:00:00Z'));
    const a = adminApp({}, {}, clock);
    const start = clock.now();
    const record = (at: number, over: Parameters<typeof usageRow>[0]) => {
      clock.set(at);
      a.store.recordUsage(usageRow(over));
    };
    // Slow successes older than the sample, one failure, then a full sample of fast ones.
    for (let i = 0; i < 500; i++) record(start + i, { latencyMs: 9_000 });
    record(start + 1_000, { status: 502, errorCode: 'upstream_error', errorMessage: 'boom' });
    for (let i = 0; i < CHANNEL_LATENCY_SAMPLE; i++) record(start + 2_000 + i, { latencyMs: 100 });
    record(start + 9_000, { channel: 'ch-b', status: 429, errorCode: 'rate_limited' });
    const stats = await a.store.admin.usage.channels({ fromMs: start, toMs: start + 60_000 });
    expect(stats).toEqual([
      {
        channel: 'ch-a',
        requests: 501 + CHANNEL_LATENCY_SAMPLE,
        errors: 1,
        serverErrors: 1,
        latencyMs: { p50: 100, p99: 100 },
        lastError: { at: start + 1_000, status: 502, code: 'upstream_error', message: 'boom' },
      },
      {
        channel: 'ch-b',
        requests: 1,
        errors: 1,
        serverErrors: 0,
        latencyMs: { p50: null, p99: null },
        lastError: { at: start + 9_000, status: 429, code: 'rate_limited', message: null },
      },
    ]);
  });
});
