import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import type { UsageRow } from '../../app/src/store/types.ts';

const row = (keyId: number, costMicros: number): UsageRow => ({
  requestId: `req_${Math.random()}`,
  keyId,
  keyName: 'k',
  endpoint: '/chat/completions',
  model: 'm',
  upstreamModel: 'm',
  channel: 'c',
  status: 200,
  promptTokens: 1,
  completionTokens: 1,
  costMicros,
  latencyMs: 1,
  ttfbMs: 1,
  source: 'upstream',
  errorCode: null,
});

describe('the SQLite store', () => {
  it('holds, settles and releases quota in micro-dollars', () => {
    const store = new SqliteStore({ path: ':memory:' });
    const key = store.upsertKey({ name: 'k', key: 'sk-store-0123456789abcdef', quotaUsd: 0.001 });
    const hold = store.reserve(key.id, 600)!;
    expect(hold).toMatchObject({ keyId: key.id, micros: 600 });
    expect(store.reserve(key.id, 600)).toBeNull();
    store.settle(hold, row(key.id, 250));
    expect(store.getKey('k')).toMatchObject({ usedMicros: 250, reservedMicros: 0 });
    const again = store.reserve(key.id, 700)!;
    store.release(again);
    expect(store.getKey('k')).toMatchObject({ usedMicros: 250, reservedMicros: 0 });
    store.close();
  });

  it('never charges past the quota, keeping the full cost in the row for the operator', () => {
    const store = new SqliteStore({ path: ':memory:' });
    const key = store.upsertKey({ name: 'k', key: 'sk-store-0123456789abcdef', quotaUsd: 0.001 });
    store.settle(store.reserve(key.id, 100), row(key.id, 5_000));
    expect(store.getKey('k')!.usedMicros).toBe(1_000);
    expect(store.listUsage({ limit: 1 })[0]).toMatchObject({
      costMicros: 1_000,
      detail: { uncappedCostMicros: 5_000 },
    });
    store.close();
  });

  it('adds columns introduced later to a database created before them', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'store-migrate-')), 'relay.db');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL,
      quota_micros INTEGER, used_micros INTEGER NOT NULL DEFAULT 0, reserved_micros INTEGER NOT NULL DEFAULT 0,
      models TEXT NOT NULL DEFAULT '["*"]', expires_at INTEGER, enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL)`);
    old.exec(`INSERT INTO keys (name, hash, hint, created_at) VALUES ('legacy', 'h', 'sk-…', 0),
      ('long-hint', 'h2', 'abcdefgh…mnop', 0), ('generated', 'h3', 'sk-relay…WXYZ', 0)`);
    old.exec(`CREATE TABLE admin_audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,
      action TEXT NOT NULL, target TEXT, before TEXT, after TEXT, request_id TEXT NOT NULL, ip TEXT)`);
    old.exec(`INSERT INTO admin_audit (at, actor, action, before, after, request_id)
      VALUES (0, 'cli', 'key.update', '{"hint":"abcdefgh…mnop","rpm":1}', NULL, 'r')`);
    old.close();
    const store = new SqliteStore({ path });
    expect(store.getKey('legacy')).toMatchObject({ name: 'legacy', rpm: null, hint: 'sk-…' });
    // Hints from when they showed the first eight characters too are cut to the last four.
    expect(store.getKey('long-hint')!.hint).toBe('…mnop');
    expect(store.getKey('generated')!.hint).toBe('sk-relay-…WXYZ');
    const audit = new DatabaseSync(path).prepare('SELECT before FROM admin_audit').get();
    expect(audit).toEqual({ before: '{"hint":"…mnop","rpm":1}' });
    store.upsertKey({ name: 'new', key: 'sk-store-0123456789abcdef', rpm: 30 });
    expect(store.getKey('new')!.rpm).toBe(30);
    // Key ids are never reused once the table is rebuilt AUTOINCREMENT (ids and columns kept).
    const newest = store.getKey('new')!.id;
    store.deleteKey('new');
    expect(store.createKey({ name: 'after' }).record.id).toBe(newest + 1);
    expect(store.getKey('legacy')!.id).toBe(1);
    store.close();
    const reopened = new SqliteStore({ path });
    expect(reopened.createKey({ name: 'later' }).record.id).toBe(newest + 2);
    reopened.close();
  });

  it("finds a key's rows by its name, never those of a deleted key of the same name, and drops the key-id index of files from before", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'store-key-rows-')), 'relay.db');
    const store = new SqliteStore({ path });
    const gone = store.createKey({ name: 'twin' }).record;
    store.recordUsage({ ...row(gone.id, 5), keyName: 'twin' });
    store.deleteKey('twin');
    const twin = store.createKey({ name: 'twin' }).record;
    store.recordUsage({ ...row(twin.id, 7), keyName: 'twin' });
    store.close();
    const old = new DatabaseSync(path);
    old.exec('CREATE INDEX usage_key_time ON usage (key_id, created_at)');
    old.close();
    const reopened = new SqliteStore({ path });
    const indexes = new DatabaseSync(path)
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'usage_key_time'")
      .all();
    expect(indexes).toEqual([]);
    expect(reopened.listUsage({ keyId: twin.id }).map((r) => r.costMicros)).toEqual([7]);
    expect(reopened.usageTotalMicros(twin.id, 0, Date.now() + 1)).toBe(7);
    const last = await reopened.admin.usage.lastUsed([twin.id]);
    expect([...last.keys()]).toEqual([twin.id]);
    reopened.close();
  });

  it('adds the cache and reasoning token columns to a usage table from before them', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'store-migrate-usage-')), 'relay.db');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE usage (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, key_id INTEGER, key_name TEXT,
      endpoint TEXT NOT NULL, model TEXT, upstream_model TEXT, channel TEXT, status INTEGER NOT NULL,
      prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_micros INTEGER NOT NULL,
      latency_ms INTEGER NOT NULL, ttfb_ms INTEGER, source TEXT NOT NULL, error_code TEXT, detail TEXT,
      created_at INTEGER NOT NULL)`);
    old.exec(`INSERT INTO usage (request_id, key_name, endpoint, model, status, prompt_tokens, completion_tokens,
      cost_micros, latency_ms, source, created_at) VALUES ('old', 'k', '/chat/completions', 'm', 200, 10, 5, 7, 1, 'upstream', 0)`);
    old.close();
    const store = new SqliteStore({ path });
    store.settle(null, {
      ...row(1, 3),
      cacheReadTokens: 4,
      cacheWrite5mTokens: 2,
      cacheWrite1hTokens: 1,
      reasoningTokens: 3,
    });
    const [fresh, legacy] = store.listUsage();
    expect(legacy).toMatchObject({ requestId: 'old', cacheReadTokens: 0, reasoningTokens: 0 });
    expect(fresh).toMatchObject({
      cacheReadTokens: 4,
      cacheWrite5mTokens: 2,
      cacheWrite1hTokens: 1,
      reasoningTokens: 3,
    });
    expect(store.usageSummary({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER })).toEqual([
      expect.objectContaining({
        model: 'm',
        requests: 2,
        cacheReadTokens: 4,
        cacheWriteTokens: 3,
        reasoningTokens: 3,
      }),
    ]);
    store.close();
  });

  it('releases holds left by a crashed process only when the relay itself opens the store', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'store-holds-')), 'relay.db');
    const first = new SqliteStore({ path });
    const key = first.upsertKey({ name: 'k', key: 'sk-store-0123456789abcdef', quotaUsd: 1 });
    first.reserve(key.id, 500);
    first.close();
    const cli = new SqliteStore({ path });
    expect(cli.getKey('k')!.reservedMicros).toBe(500);
    cli.close();
    const relay = new SqliteStore({ path, releaseStaleHolds: true });
    expect(relay.getKey('k')!.reservedMicros).toBe(0);
    relay.close();
  });

  describe('group commit (settleSoon)', () => {
    const fileStore = () => {
      const path = join(mkdtempSync(join(tmpdir(), 'store-group-')), 'relay.db');
      return { path, store: new SqliteStore({ path }) };
    };
    const rowsSeenBy = (path: string) => {
      const db = new DatabaseSync(path);
      const { n } = db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number };
      db.close();
      return n;
    };

    it('commits everything queued in one turn together, before any of it resolves', async () => {
      const { path, store } = fileStore();
      const key = store.upsertKey({ name: 'k', key: 'sk-group-0123456789abcdef', quotaUsd: 1 });
      const settled = Array.from({ length: 50 }, () =>
        store.settleSoon(store.reserve(key.id, 100), row(key.id, 40)),
      );
      // Queued, not yet written: another connection (the keys CLI, say) sees nothing yet.
      expect(rowsSeenBy(path)).toBe(0);
      await Promise.all(settled);
      expect(rowsSeenBy(path)).toBe(50);
      expect(store.getKey('k')).toMatchObject({ usedMicros: 2000, reservedMicros: 0 });
      store.close();
    });

    it('applies holds and settlements queued in one turn in order, so a batch never overspends', async () => {
      const { path, store } = fileStore();
      const key = store.upsertKey({
        name: 'k',
        key: 'sk-group-0123456789abcdef',
        quotaUsd: 0.00025,
      });
      const first = store.reserveSoon(key.id, 100);
      const second = store.reserveSoon(key.id, 100);
      const third = store.reserveSoon(key.id, 100); // 300 > 250: refused inside the same batch
      const [a, b, c] = await Promise.all([first, second, third]);
      expect([a, b, c]).toMatchObject([
        { keyId: key.id, micros: 100 },
        { keyId: key.id, micros: 100 },
        null,
      ]);
      // A settlement that frees room lets a later hold of the same turn through.
      const settled = store.settleSoon(a, row(key.id, 30));
      const fourth = store.reserveSoon(key.id, 100);
      await settled;
      expect(await fourth).toMatchObject({ keyId: key.id, micros: 100 });
      expect(rowsSeenBy(path)).toBe(1);
      expect(store.getKey('k')).toMatchObject({ usedMicros: 30, reservedMicros: 200 });
      store.close();
    });

    it('writes the good rows of a batch when one of them cannot be written', async () => {
      const { path, store } = fileStore();
      const key = store.upsertKey({ name: 'k', key: 'sk-group-0123456789abcdef', quotaUsd: 1 });
      const bad = { ...row(key.id, 40), status: null as unknown as number }; // NOT NULL column
      const results = await Promise.allSettled([
        store.settleSoon(store.reserve(key.id, 100), row(key.id, 40)),
        store.settleSoon(store.reserve(key.id, 100), bad),
        store.settleSoon(store.reserve(key.id, 100), row(key.id, 40)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(rowsSeenBy(path)).toBe(2);
      // The failed one rolled back alone: its hold is still there for the caller to release.
      expect(store.getKey('k')).toMatchObject({ usedMicros: 80, reservedMicros: 100 });
      store.close();
    });

    it('refuses holds still queued when the store closes, so none outlives its request', async () => {
      const { path, store } = fileStore();
      const key = store.upsertKey({ name: 'k', key: 'sk-group-0123456789abcdef', quotaUsd: 1 });
      const hold = store.reserveSoon(key.id, 100);
      store.close();
      await expect(hold).rejects.toThrow(/closed/);
      const db = new DatabaseSync(path);
      expect(db.prepare('SELECT reserved_micros FROM keys').get()).toEqual({ reserved_micros: 0 });
      db.close();
    });

    it('commits what is still queued when the store closes (shutdown loses no row)', () => {
      const { path, store } = fileStore();
      const key = store.upsertKey({ name: 'k', key: 'sk-group-0123456789abcdef', quotaUsd: 1 });
      const pending = store.settleSoon(store.reserve(key.id, 100), row(key.id, 40));
      store.close();
      expect(rowsSeenBy(path)).toBe(1);
      return expect(pending).resolves.toBeUndefined();
    });
  });
});
