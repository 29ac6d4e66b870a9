import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../app/src/app.ts';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/logger.ts';
import { createStore, sqlitePath } from '../../app/src/store/create-store.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import type { Store } from '../../app/src/store/types.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';

const ADMIN = 'admin-key-cache-0123456789';

// The store as server.ts opens it (createStore: key lookups cached), with the admin API on it.
describe('cached key lookups in the running relay', () => {
  let upstream: FakeUpstream;
  let dir: string;
  let store: Store;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up' });
    dir = mkdtempSync(join(tmpdir(), 'key-cache-'));
    const config = parseRelayConfig(
      { channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }] },
      { ADMIN_KEY: ADMIN },
    );
    store = await createStore(config, { dataDir: dir });
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    app = createApp({ config, store, logger, admin: store.admin });
  });
  afterAll(async () => {
    await store?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chat = (key: string) =>
    app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
  const admin = (method: string, path: string, body: unknown) =>
    app.request(`/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('a key disabled in the console is refused at once; one enabled by another process within the TTL', async () => {
    const created = (await (await admin('POST', '/keys', { name: 'k' })).json()) as {
      secret: string;
    };
    expect((await chat(created.secret)).status).toBe(200);
    expect((await admin('PATCH', '/keys/k', { enabled: false })).status).toBe(200);
    expect((await chat(created.secret)).status).toBe(401);
    // The keys CLI, say: its own connection to the file.
    const cli = new SqliteStore({ path: sqlitePath(dir) });
    try {
      cli.setEnabled('k', true);
      const started = Date.now();
      await vi.waitFor(async () => expect((await chat(created.secret)).status).toBe(200), {
        timeout: 2500,
        interval: 50,
      });
      expect(Date.now() - started).toBeLessThan(2100);
    } finally {
      cli.closeNow();
    }
  });
});
