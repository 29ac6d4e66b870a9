import { describe, expect, it } from 'vitest';
import { sessionHash, throttleScope } from '../../../app/src/admin/auth.ts';
import { parseRelayConfig } from '../../../app/src/config.ts';
import { createApp } from '../../../app/src/app.ts';
import { createLogger } from '../../../app/src/logger.ts';
import { ADMIN_KEY, adminApp, answerOf } from '../../fixtures/admin-app.ts';

const CLIENT = 'sk-client-0123456789abcdef';

describe('admin API authentication', () => {
  it('refuses requests without credentials, with a client key, or with a wrong admin key, in the usual error shape', async () => {
    const a = adminApp({ keys: [{ name: 'c', key: CLIENT }] });
    const none = await a.call('GET', '/keys', undefined, { cookie: '' });
    expect(none.status).toBe(401);
    expect(none.json).toEqual({
      error: {
        message: expect.stringContaining('Log in first'),
        type: 'authentication_error',
        code: 'admin_auth_required',
        param: null,
      },
      request_id: none.headers.get('x-request-id'),
    });
    // Refusals are answers of the admin API too: nothing may cache them.
    expect(none.headers.get('cache-control')).toBe('no-store');
    expect(none.headers.get('content-type')).toBe('application/json');
    const client = await a.call('GET', '/keys', undefined, { authorization: `Bearer ${CLIENT}` });
    expect(client.status).toBe(401);
    expect(client.json.error.code).toBe('invalid_admin_key');
    const wrong = await a.call('GET', '/keys', undefined, {
      authorization: 'Bearer not-the-admin-key-at-all',
    });
    expect(wrong.status).toBe(401);
  });

  it("answers a browser's refused call with each header once, CORS and no-store included", async () => {
    const origin = 'https://console.example';
    const a = adminApp({ server: { corsOrigins: [origin] } });
    const res = await a.call('GET', '/keys', undefined, { cookie: '', origin });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBe(res.json.request_id);
  });

  it('never lets an admin key act as a client key', async () => {
    const a = adminApp({ keys: [{ name: 'c', key: CLIENT }] });
    const res = await answerOf(
      await a.app.request('/v1/models', { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
    );
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('invalid_api_key');
  });

  it('refuses a config whose admin key is also a client key, or is too short', () => {
    expect(() =>
      parseRelayConfig({ keys: [{ name: 'c', key: ADMIN_KEY }] }, { ADMIN_KEY }),
    ).toThrow(/ADMIN_KEY: an admin key must not also be a client key/);
    expect(() =>
      parseRelayConfig({ admin: { keys: [{ name: 'ops', key: 'short' }] } }, {}),
    ).toThrow(/admin.keys.0.key: admin keys must be at least 16 characters/);
    const cfg = parseRelayConfig(
      { admin: { keys: [{ name: 'ops', key: 'env:OPS_KEY' }] } },
      { OPS_KEY: 'ops-key-0123456789abcdef', ADMIN_KEY },
    );
    expect(cfg.admin.keys.map((k) => k.name)).toEqual(['ops', 'admin']);
    // Only hashes are kept.
    expect(JSON.stringify(cfg)).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(cfg)).not.toContain('ops-key-0123456789abcdef');
  });

  it('says how to turn the console on when no admin key is configured', async () => {
    const a = adminApp({}, { ADMIN_KEY: '' });
    const res = await a.call('GET', '/keys');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('admin_not_configured');
    expect(res.json.error.message).toContain('ADMIN_KEY');
  });

  it('logs in with a session cookie (HttpOnly, SameSite=Strict, Path=/admin) and answers who is there', async () => {
    const a = adminApp();
    const anonymous = await a.call('GET', '/session', undefined, { cookie: '' });
    expect(anonymous.status).toBe(200);
    expect(anonymous.json.admin).toBeNull();

    const { cookie, csrf, answer } = await a.login();
    expect(answer.status).toBe(200);
    const setCookie = answer.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^relay_admin=[\w-]{40,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/admin');
    // Plain HTTP without a CDN in front (a laptop): a Secure cookie would never come back.
    expect(setCookie).not.toContain('Secure');
    expect(csrf).toMatch(/^[\w-]{40,}$/);

    const me = await a.call('GET', '/session', undefined, { cookie });
    expect(me.json).toMatchObject({ admin: 'admin', via: 'session', csrfToken: csrf });
    // The store keeps a hash of the session id, never the id itself.
    const id = cookie.split('=')[1]!;
    expect(await a.store.admin.sessions.find(sessionHash(id), Date.now())).toMatchObject({
      admin: 'admin',
    });
    expect(await a.store.admin.sessions.find(id, Date.now())).toBeNull();
  });

  it('marks the cookie Secure behind CloudFront (an origin secret is set)', async () => {
    const a = adminApp({ server: { originSecret: 'origin-secret-0123456789' } });
    const res = await a.app.request('/admin/api/session', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-origin-secret': 'origin-secret-0123456789',
      },
      body: JSON.stringify({ key: ADMIN_KEY }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toContain('Secure');
  });

  it('needs the CSRF token for every change made with the session cookie', async () => {
    const a = adminApp();
    const { cookie, csrf } = await a.login();
    expect((await a.call('GET', '/keys', undefined, { cookie })).status).toBe(200);
    const body = { name: 'csrf-test' };
    const missing = await a.call('POST', '/keys', body, { cookie });
    expect(missing.status).toBe(403);
    expect(missing.json.error.code).toBe('csrf_token_invalid');
    expect((await a.call('POST', '/keys', body, { cookie, 'x-csrf-token': 'forged' })).status).toBe(
      403,
    );
    expect(await a.store.admin.keys.get('csrf-test')).toBeNull();
    expect((await a.call('POST', '/keys', body, { cookie, 'x-csrf-token': csrf })).status).toBe(
      201,
    );
  });

  it('ends the session on logout, server side too, and audits both', async () => {
    const a = adminApp();
    const { cookie, csrf } = await a.login();
    const out = await a.call('DELETE', '/session', undefined, { cookie, 'x-csrf-token': csrf });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/relay_admin=;.*Max-Age=0/);
    expect((await a.call('GET', '/keys', undefined, { cookie })).status).toBe(401);
    const audit = await a.call('GET', '/audit');
    expect(audit.json.rows.map((r: { action: string }) => r.action)).toEqual([
      'session.logout',
      'session.login',
    ]);
  });

  it('ends console sessions once the admin key that opened them is rotated or removed', async () => {
    const a = adminApp({ admin: { keys: [{ name: 'ops', key: 'ops-key-0123456789abcdef' }] } });
    const { cookie } = await a.login();
    const reopened = (env: Record<string, string>, config: Record<string, unknown> = {}) => {
      const app = createApp({
        config: parseRelayConfig(config, env),
        store: a.store,
        logger: createLogger({ level: 'silent' }),
        admin: a.store.admin,
      });
      return async () => (await app.request('/admin/api/keys', { headers: { cookie } })).status;
    };
    // The same key after a restart: the session goes on.
    expect(await reopened({ ADMIN_KEY })()).toBe(200);
    // ADMIN_KEY rotated: the old cookie is refused, and its row is gone for good.
    expect(await reopened({ ADMIN_KEY: 'admin-key-rotated-987654321' })()).toBe(401);
    expect(await reopened({ ADMIN_KEY })()).toBe(401);

    // Removed from the config (another admin key remains): refused too.
    const b = adminApp();
    const second = await b.login();
    const removed = createApp({
      config: parseRelayConfig(
        { admin: { keys: [{ name: 'ops', key: 'ops-key-0123456789abcdef' }] } },
        {},
      ),
      store: b.store,
      logger: createLogger({ level: 'silent' }),
      admin: b.store.admin,
    });
    const res = await removed.request('/admin/api/keys', { headers: { cookie: second.cookie } });
    expect(res.status).toBe(401);
    const id = second.cookie.split('=')[1]!;
    expect(await b.store.admin.sessions.find(sessionHash(id), Date.now())).toBeNull();
  });

  it('ends the server-side session on logout with an admin key and the cookie together', async () => {
    const a = adminApp();
    const { cookie } = await a.login();
    const out = await a.call('DELETE', '/session', undefined, {
      cookie,
      authorization: `Bearer ${ADMIN_KEY}`,
    });
    expect(out.status).toBe(204);
    const id = cookie.split('=')[1]!;
    expect(await a.store.admin.sessions.find(sessionHash(id), Date.now())).toBeNull();
    expect((await a.call('GET', '/keys', undefined, { cookie })).status).toBe(401);
  });

  it('rate-limits failed logins per client address; the address is the one CloudFront saw', async () => {
    const a = adminApp({ server: { originSecret: 'origin-secret-0123456789' } });
    const login = (key: string, forwardedFor: string) =>
      a.app.request('/admin/api/session', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-origin-secret': 'origin-secret-0123456789',
          'x-forwarded-for': forwardedFor,
        },
        body: JSON.stringify({ key }),
      });
    for (let i = 0; i < 10; i++) {
      // A client may prepend whatever it likes; CloudFront appends the address it really saw.
      expect((await login('wrong-key-0123456789', `10.0.0.${i}, 203.0.113.7`)).status).toBe(401);
    }
    const locked = await answerOf(await login(ADMIN_KEY, '203.0.113.7'));
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('too_many_failed_logins');
    expect(locked.headers.get('retry-after')).toBe('900');
    // Wrong admin keys in Authorization count against the same address, and are refused too.
    const bearer = await a.app.request('/admin/api/keys', {
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        'x-origin-secret': 'origin-secret-0123456789',
        'x-forwarded-for': '203.0.113.7',
      },
    });
    expect(bearer.status).toBe(429);
    expect((await login(ADMIN_KEY, '198.51.100.2')).status).toBe(200);

    // IPv6: one client holds a whole /64, so a fresh address in it is the same client.
    for (let i = 1; i <= 10; i++) {
      expect((await login('wrong-key-0123456789', `2001:db8:1:2::${i.toString(16)}`)).status).toBe(
        401,
      );
    }
    expect((await login(ADMIN_KEY, '2001:db8:1:2:ffff:1:2:3')).status).toBe(429);
    expect((await login(ADMIN_KEY, '2001:db8:1:3::1')).status).toBe(200);
  });

  it('counts IPv6 failures per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(throttleScope('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(throttleScope('2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(throttleScope('::1')).toBe('0:0:0:0::/64');
    expect(throttleScope('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleScope('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(throttleScope('203.0.113.7')).toBe('203.0.113.7');
    expect(throttleScope('unknown')).toBe('unknown');
  });

  it('never writes an admin key or a session id to the log', async () => {
    const a = adminApp();
    const { cookie } = await a.login();
    await a.call('GET', '/keys');
    await a.call('GET', '/keys', undefined, { authorization: `Bearer ${ADMIN_KEY}x` });
    const log = a.logs.join('');
    expect(log).toContain('/admin/api/keys');
    expect(log).not.toContain(ADMIN_KEY);
    expect(log).not.toContain(cookie.split('=')[1]);
  });
});

describe('the admin API describes itself', () => {
  it('serves an OpenAPI 3.1 document generated from its schemas, without a login', async () => {
    const a = adminApp();
    const res = await a.call('GET', '/openapi.json', undefined, { cookie: '' });
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/audit',
      '/channels',
      '/channels/{name}',
      '/channels/{name}/test',
      '/keys',
      '/keys/{name}',
      '/keys/{name}/topup',
      '/overview',
      '/requests',
      '/session',
      '/usage',
      '/usage/export.csv',
    ]);
    expect(Object.keys(doc.paths['/keys/{name}']).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.components.schemas.Key.properties.quotaUsd).toBeDefined();
    expect(doc.components.schemas.CreateKey.required).toEqual(['name']);
    expect(doc.components.securitySchemes.adminKey).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(doc.paths['/usage/export.csv'].get.responses['200'].content['text/csv']).toBeDefined();
  });
});

describe('the console page', () => {
  it('is served from the relay with a strict content security policy, assets hashed and gzipped', async () => {
    const a = adminApp();
    const page = await a.app.request('/admin');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    const script = /<script type="module" src="(\/admin\/assets\/main-\w+\.js)">/.exec(html)?.[1];
    const style = /<link rel="stylesheet" href="(\/admin\/assets\/main-\w+\.css)">/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    // No CDN: nothing is loaded from another origin.
    expect(html).not.toMatch(/(src|href)="https?:/);
    const js = await a.app.request(script!, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await a.app.request('/admin/')).status).toBe(200);
    expect((await a.app.request('/admin/assets/main-NOPE.js')).status).toBe(404);
  });
});
