import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../../fixtures/raw-http.ts';
import { startTestRelay } from '../../fixtures/relay-harness.ts';
import type { TestRelay } from '../../fixtures/relay-harness.ts';
import { ADMIN_KEY, adminApp, answerOf } from '../../fixtures/admin-app.ts';

const CLIENT = 'sk-client-0123456789abcdef';

/** Paths the CDN's /admin behavior would not match, but a lenient hop could route to /admin. */
const SIDE_DOORS = [
  '/%61dmin/api/keys',
  '/%2561dmin/api/keys',
  '/admin%2Fapi/keys',
  '/%2Fadmin/api/keys',
  '//admin/api/keys',
  '/ADMIN/api/keys',
  '/Admin/api/keys',
  '/%41dmin',
  '/Admin',
];

/** Dot segments the URL parser resolves before the app sees a Request: only a real socket keeps them. */
const DOTTED = [
  '/./admin/api/keys',
  '/v1/../admin/api/keys',
  '/v1/%2e%2e/admin/api/keys',
  '/v1/models/../../admin/api/keys',
  '/v1/..%2fadmin/api/keys',
];

describe('the /admin guard and paths spelled another way', () => {
  it.each(SIDE_DOORS)('refuses %s before routing, with any credentials or none', async (path) => {
    const a = adminApp({ keys: [{ name: 'c', key: CLIENT }] });
    for (const headers of [
      {},
      { authorization: `Bearer ${CLIENT}` },
      { authorization: `Bearer ${ADMIN_KEY}` },
    ]) {
      const res = await answerOf(await a.app.request(path, { headers }));
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({
        code: 'non_canonical_path',
        type: 'invalid_request_error',
      });
    }
  });

  it('still serves /admin and /admin/api spelled plainly, and leaves /v1 alone', async () => {
    const a = adminApp({ keys: [{ name: 'c', key: CLIENT }] });
    expect((await a.app.request('/admin')).status).toBe(200);
    expect((await a.call('GET', '/keys')).status).toBe(200);
    const models = await a.app.request('/v1/models', {
      headers: { authorization: `Bearer ${CLIENT}` },
    });
    expect(models.status).toBe(200);
  });

  describe('over a real socket', () => {
    let relay: TestRelay;
    beforeAll(async () => {
      relay = await startTestRelay({ keys: [{ name: 'c', key: CLIENT }] }, { ADMIN_KEY });
    });
    afterAll(() => relay?.close());

    it.each([...DOTTED, ...SIDE_DOORS])('refuses %s as sent', async (path) => {
      const port = Number(new URL(relay.baseUrl).port);
      for (const key of [CLIENT, ADMIN_KEY]) {
        const res = await rawRequest(
          { method: 'GET', path, headers: [['authorization', `Bearer ${key}`]] },
          port,
        );
        expect(res.status, res.body.toString()).toBe(400);
        expect(res.body.toString()).toContain('non_canonical_path');
      }
    });

    it('answers the plain path', async () => {
      const port = Number(new URL(relay.baseUrl).port);
      const res = await rawRequest(
        {
          method: 'GET',
          path: '/admin/api/keys',
          headers: [['authorization', `Bearer ${ADMIN_KEY}`]],
        },
        port,
      );
      expect(res.status).toBe(200);
    });
  });
});
