/**
 * The admin API (what the console calls) on the DynamoDB store, as the relay opens it from its
 * config (createStore, key cache included): keys, top-ups, reports, the overview, request lists,
 * exports, the audit log, sessions and channel switches all answer from the four tables.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../app/src/app.ts';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/logger.ts';
import { createStore } from '../../app/src/store/create-store.ts';
import type { Store } from '../../app/src/store/types.ts';
import { ADMIN_KEY, adminCall, answerOf } from '../fixtures/admin-app.ts';
import { startDynalite, TEST_CREDENTIALS, TEST_REGION } from '../fixtures/dynalite.ts';
import type { Dynalite } from '../fixtures/dynalite.ts';
import { usageRow } from '../fixtures/usage-row.ts';

let db: Dynalite;
let store: Store;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
  db = await startDynalite();
  const tablePrefix = await db.tables();
  const config = parseRelayConfig(
    { store: { type: 'dynamodb', tablePrefix, region: TEST_REGION, endpoint: db.endpoint } },
    { ADMIN_KEY },
  );
  store = await createStore(config, { dataDir: '/nonexistent' });
  const logger = createLogger({
    level: 'warn',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  app = createApp({ config, store, logger, admin: store.admin });
});

afterAll(async () => {
  await store?.close();
  await db?.close();
  vi.unstubAllEnvs();
});

const call: ReturnType<typeof adminCall> = (...args) => adminCall(app)(...args);

describe('the admin API on DynamoDB', () => {
  it('creates, edits, tops up and lists keys, with their spend and an audit trail', async () => {
    const created = await call('POST', '/keys', { name: 'alice', quotaUsd: 5, tpm: 1000 });
    expect(created.status, created.text).toBe(201);
    expect((await call('POST', '/keys/alice/topup', { amountUsd: 1 })).status).toBe(200);
    expect((await call('PATCH', '/keys/alice', { rpm: 60 })).json).toMatchObject({
      rpm: 60,
      tpm: 1000,
    });
    const alice = (await store.keys.get('alice'))!;
    const hold = await store.ledger.reserve(alice.id, 5000, 60_000);
    await store.ledger.settle(
      hold,
      usageRow({ keyId: alice.id, keyName: 'alice', costMicros: 1500 }),
    );
    const keys = (await call('GET', '/keys')).json.keys;
    expect(keys).toEqual([
      expect.objectContaining({ name: 'alice', quotaUsd: 6, usedUsd: 0.0015, rpm: 60 }),
    ]);
    const audit = (await call('GET', '/audit')).json.rows.map((r: { action: string }) => r.action);
    expect(audit).toEqual(['key.update', 'key.topup', 'key.create']);
    expect((await call('POST', '/keys', { name: 'bob' })).status).toBe(201);
    const unlimited = await call('POST', '/keys/bob/topup', { amountUsd: 1 });
    expect(unlimited.status).toBe(409);
    expect(unlimited.json.error.message).toContain('unlimited');
  });

  it('answers the overview, reports, request lists and exports from rollups and raw rows', async () => {
    await store.usage.record(usageRow({ keyName: 'bob', model: 'm2', status: 502, costMicros: 0 }));
    const overview = await call('GET', '/overview');
    expect(overview.status, overview.text).toBe(200);
    expect(overview.json.live.requests).toBe(2);
    const byModel = (await call('GET', '/usage?groupBy=model')).json.rows;
    expect(byModel.map((r: { group: string }) => r.group).sort()).toEqual(['gpt-x', 'm2']);
    const requests = await call('GET', '/requests?status=error');
    expect(requests.json.rows.map((r: { model: string }) => r.model)).toEqual(['m2']);
    const csv = await call('GET', '/usage/export.csv');
    expect(csv.status).toBe(200);
    expect(csv.text.split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('logs in and out with a session kept in the admin table', async () => {
    const login = await answerOf(
      await app.request('/admin/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: ADMIN_KEY }),
      }),
    );
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect((await call('GET', '/keys', undefined, { cookie })).status).toBe(200);
    const csrf = login.json.csrfToken as string;
    expect(
      (await call('DELETE', '/session', undefined, { cookie, 'x-csrf-token': csrf })).status,
    ).toBe(204);
    expect((await call('GET', '/keys', undefined, { cookie })).status).toBe(401);
  });
});
