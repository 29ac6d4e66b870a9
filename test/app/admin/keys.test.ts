import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../../fixtures/openai-upstream.ts';
import { syncConfigKeys } from '../../../app/src/server.ts';
import { ADMIN_KEY, adminApp, answerOf } from '../../fixtures/admin-app.ts';
import type { AdminApp } from '../../fixtures/admin-app.ts';

const CONFIG_KEY = 'sk-from-config-0123456789';

describe('client keys through the admin API', () => {
  let upstream: FakeUpstream;
  let a: AdminApp;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: 'up',
      promptTokens: 1000,
      completionTokens: 500,
    });
    a = adminApp({
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
      keys: [{ name: 'from-config', key: CONFIG_KEY, quota: 1 }],
      prices: { m: { input: 2, output: 10 } },
    });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  /** A chat answer, once its usage row (written behind the answer) is committed too. */
  const chat = async (key: string) => {
    const res = await a.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await a.idle();
    return res;
  };

  it('creates a key, shows its secret in that answer only, and the secret works as a client key only', async () => {
    const created = await a.call('POST', '/keys', {
      name: 'alice',
      quotaUsd: 5,
      models: ['m', 'gpt-*'],
      expiresAt: '2099-01-01',
      rpm: 60,
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const secret = created.json.secret as string;
    expect(secret).toMatch(/^sk-relay-/);
    expect(created.json.key).toMatchObject({
      name: 'alice',
      quotaUsd: 5,
      usedUsd: 0,
      remainingUsd: 5,
      models: ['m', 'gpt-*'],
      expiresAt: '2099-01-01T00:00:00.000Z',
      rpm: 60,
      enabled: true,
      source: 'console',
      lastUsedAt: null,
    });
    // The generated prefix says nothing secret; of the rest, the last four characters only.
    expect(created.json.key.hint).toBe(`sk-relay-…${secret.slice(-4)}`);

    expect((await chat(secret)).status).toBe(200);
    expect(
      (await a.call('GET', '/keys', undefined, { authorization: `Bearer ${secret}` })).status,
    ).toBe(401);

    // Never again: not in the list, not in one key, not in the audit log.
    for (const path of ['/keys', '/keys/alice', '/audit']) {
      const res = await a.call('GET', path);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain(secret.slice(9, -4));
    }
    expect(a.logs.join('')).not.toContain(secret);
  });

  it('shows what each key spent, today and over 30 days, and when it was last used', async () => {
    const list = await a.call('GET', '/keys');
    const alice = list.json.keys.find((k: { name: string }) => k.name === 'alice');
    // 1000 × $2 + 500 × $10 per 1M tokens = $0.007
    expect(alice.usedUsd).toBe(0.007);
    expect(alice.usage).toEqual({
      todayUsd: 0.007,
      last30Days: { requests: 1, errors: 0, costUsd: 0.007 },
    });
    expect(Date.parse(alice.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('changes quota, models, expiry and rpm, disables and enables, with an audit row for each change', async () => {
    const patched = await a.call('PATCH', '/keys/alice', {
      quotaUsd: 7.5,
      models: ['*'],
      expiresAt: null,
      rpm: null,
      tpm: 1000,
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      quotaUsd: 7.5,
      models: ['*'],
      expiresAt: null,
      rpm: null,
      tpm: 1000,
      usedUsd: 0.007,
    });

    const secret = (await a.call('POST', '/keys', { name: 'bob' })).json.secret as string;
    expect((await a.call('PATCH', '/keys/bob', { enabled: false })).json.enabled).toBe(false);
    const refused = await answerOf(await chat(secret));
    expect(refused.status).toBe(401);
    expect(refused.json.error.message).toContain('disabled');
    expect((await a.call('PATCH', '/keys/bob', { enabled: true })).json.enabled).toBe(true);
    expect((await chat(secret)).status).toBe(200);

    const audit = (await a.call('GET', '/audit?limit=3')).json.rows;
    expect(audit.map((r: { action: string }) => r.action)).toEqual([
      'key.update',
      'key.update',
      'key.create',
    ]);
    expect(audit[0]).toMatchObject({
      actor: 'admin',
      target: 'bob',
      before: { enabled: false },
      after: { enabled: true },
    });
    const aliceChange = (await a.call('GET', '/audit?limit=10')).json.rows.find(
      (r: { target: string; action: string }) => r.target === 'alice' && r.action === 'key.update',
    );
    expect(aliceChange.before).toMatchObject({
      quotaUsd: 5,
      rpm: 60,
      expiresAt: '2099-01-01T00:00:00.000Z',
    });
    expect(aliceChange.after).toMatchObject({ quotaUsd: 7.5, rpm: null, expiresAt: null });
  });

  it('tops up a key with a quota, and refuses to top up an unlimited one', async () => {
    const up = await a.call('POST', '/keys/alice/topup', { amountUsd: 2.5 });
    expect(up.status).toBe(200);
    expect(up.json.quotaUsd).toBe(10);
    const unlimited = await a.call('POST', '/keys/bob/topup', { amountUsd: 1 });
    expect(unlimited.status).toBe(409);
    expect(unlimited.json.error.message).toContain('unlimited');
    const audit = (await a.call('GET', '/audit?action=key.topup')).json.rows;
    expect(audit).toHaveLength(1);
    expect(audit[0].after).toMatchObject({ amountUsd: 2.5, quotaUsd: 10 });
  });

  it('deletes a key: its secret stops working, its usage rows stay', async () => {
    const created = await a.call('POST', '/keys', { name: 'carol' });
    expect((await chat(created.json.secret)).status).toBe(200);
    expect((await a.call('DELETE', '/keys/carol')).status).toBe(204);
    expect((await chat(created.json.secret)).status).toBe(401);
    expect((await a.call('GET', '/keys/carol')).status).toBe(404);
    expect((await a.call('DELETE', '/keys/carol')).json.error.code).toBe('key_not_found');
    const rows = (await a.call('GET', '/requests?key=carol')).json.rows;
    expect(rows).toHaveLength(1);
  });

  it('keeps keys from the config file read-only: the next start would undo any change', async () => {
    const list = (await a.call('GET', '/keys')).json.keys;
    expect(list.find((k: { name: string }) => k.name === 'from-config').source).toBe('config');
    for (const [method, path, body] of [
      ['PATCH', '/keys/from-config', { quotaUsd: 100 }],
      ['PATCH', '/keys/from-config', { enabled: false, rpm: 5 }],
      ['POST', '/keys/from-config/topup', { amountUsd: 1 }],
      ['DELETE', '/keys/from-config', undefined],
    ] as const) {
      const res = await a.call(method, path, body);
      expect(res.status).toBe(409);
      expect(res.json.error.code).toBe('key_managed_by_config');
    }
    expect((await a.store.admin.keys.get('from-config'))?.quotaMicros).toBe(1_000_000);
    expect((await a.store.admin.keys.get('from-config'))?.enabled).toBe(true);
  });

  it('shows at most the last quarter of a config-file key, in the list, in one key and in audit rows', async () => {
    const b = adminApp({
      keys: [
        { name: 'shortest', key: 'abcdefghijklmnop' },
        { name: 'lookalike', key: 'sk-relay-0123456789abcdef' },
      ],
    });
    const hints = Object.fromEntries(
      (await b.call('GET', '/keys')).json.keys.map((k: { name: string; hint: string }) => [
        k.name,
        k.hint,
      ]),
    );
    expect(hints).toEqual({ shortest: '…mnop', lookalike: '…cdef' });
    expect((await b.call('PATCH', '/keys/shortest', { enabled: false })).status).toBe(200);
    const audit = (await b.call('GET', '/audit')).text;
    expect(audit).toContain('…mnop');
    expect(audit).not.toContain('abcdefgh');
  });

  it('switches a config-file key off and on, audited, and the config cannot switch it back on', async () => {
    const off = await a.call('PATCH', '/keys/from-config', { enabled: false });
    expect(off.status).toBe(200);
    expect(off.json.enabled).toBe(false);
    expect((await chat(CONFIG_KEY)).status).toBe(401);
    // What the relay does with the config file at every start.
    const restart = () => syncConfigKeys(a.config, a.store);
    await restart();
    expect((await a.store.admin.keys.get('from-config'))?.enabled).toBe(false);
    const on = await a.call('PATCH', '/keys/from-config', { enabled: true });
    expect(on.json.enabled).toBe(true);
    await restart();
    expect((await a.store.admin.keys.get('from-config'))?.enabled).toBe(true);
    expect((await chat(CONFIG_KEY)).status).toBe(200);
    const audit = (await a.call('GET', '/audit?action=key.update')).json.rows;
    expect(audit[0]).toMatchObject({ target: 'from-config', after: { enabled: true } });
    expect(audit[1]).toMatchObject({ target: 'from-config', after: { enabled: false } });
  });

  it('refuses to enable a key the config file disables', async () => {
    const b = adminApp({
      keys: [{ name: 'off-in-config', key: 'sk-off-in-config-0123456789', enabled: false }],
    });
    const res = await b.call('PATCH', '/keys/off-in-config', { enabled: true });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('key_disabled_in_config');
    expect((await b.store.admin.keys.get('off-in-config'))?.enabled).toBe(false);
    expect((await b.call('PATCH', '/keys/off-in-config', { enabled: false })).status).toBe(200);
  });

  it('answers bad input with a 400 that names the field, and a taken name with 409', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'x', quotaUsd: -1 }, 'quotaUsd'],
      [{ name: '' }, 'name'],
      [{ name: 'has space' }, 'name'],
      [{ name: 'x', models: [] }, 'models'],
      [{ name: 'x', expiresAt: 'someday' }, 'expiresAt'],
      [{ name: 'x', rpm: 1.5 }, 'rpm'],
      [{ name: 'x', secret: 'sk-chosen-by-me-0123456789' }, ''],
    ];
    for (const [body, param] of cases) {
      const res = await a.call('POST', '/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.type).toBe('invalid_request_error');
      if (param) expect(res.json.error.param).toBe(param);
    }
    const notJson = await answerOf(
      await a.app.request('/admin/api/keys', {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: '{"name":',
      }),
    );
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toBeDefined();
    const taken = await a.call('POST', '/keys', { name: 'alice' });
    expect(taken.status).toBe(409);
    expect(taken.json.error.message).toContain('already exists');
    expect((await a.call('PATCH', '/keys/nobody', { rpm: 5 })).status).toBe(404);
    expect((await a.call('POST', '/keys/alice/topup', { amountUsd: 0 })).status).toBe(400);
  });

  it('refuses a key created already expired, and a change that changes nothing (no audit row)', async () => {
    const expired = await a.call('POST', '/keys', { name: 'late', expiresAt: '2020-01-01' });
    expect(expired.status).toBe(400);
    expect(expired.json.error).toMatchObject({ param: 'expiresAt' });
    expect(expired.json.error.message).toContain('in the past');
    expect(await a.store.admin.keys.get('late')).toBeNull();

    const audited = (await a.call('GET', '/audit')).json.rows.length;
    const empty = await a.call('PATCH', '/keys/alice', {});
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toContain('Nothing to change');
    expect((await a.call('GET', '/audit')).json.rows.length).toBe(audited);
  });

  it('says a JSON body is required when the Content-Type is not JSON', async () => {
    const res = await answerOf(
      await a.app.request('/admin/api/keys', {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'text/plain' },
        body: JSON.stringify({ name: 'plain' }),
      }),
    );
    expect(res.status).toBe(415);
    expect(res.json.error).toMatchObject({ code: 'unsupported_media_type' });
    expect(res.json.error.message).toContain('application/json');
  });
});

describe('the admin test app', () => {
  it('throws at once when its config keys clash, instead of losing the error', () => {
    const same = 'sk-clash-0123456789abcdef';
    expect(() =>
      adminApp({
        keys: [
          { name: 'one', key: same },
          { name: 'two', key: same },
        ],
      }),
    ).toThrow(/same secret as key "one"/);
  });
});
