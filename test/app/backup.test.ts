/**
 * Online SQLite backups to S3 and the documented restore, against the real relay (its own store,
 * settling real requests) and s3rver as S3. A restore must bring back exactly what the database
 * held when the backup was taken: the keys (they still authenticate), their spend, every usage row.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { runBackupCli } from '../../app/src/cli/backup.ts';
import { createLogger } from '../../app/src/logger.ts';
import { startRelay } from '../../app/src/server.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { startFaultUpstream } from '../fixtures/fault-upstream.ts';
import type { FaultUpstream } from '../fixtures/fault-upstream.ts';
import { S3RVER_CREDENTIALS, startS3 } from '../fixtures/images/servers.ts';
import type { S3Fixture } from '../fixtures/images/servers.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const ALICE = 'sk-backup-alice-0123456789abcdef';
const BOB = 'sk-backup-bob-0123456789abcdef00';
const BUCKET = 'relay-images';

let s3: S3Fixture;
let upstream: FaultUpstream;
beforeAll(async () => {
  s3 = await startS3(BUCKET);
  upstream = await startFaultUpstream();
});
afterAll(async () => {
  await upstream.close();
  await s3.close();
});

function relayConfig() {
  return {
    channels: [{ name: 'up', baseUrl: upstream.baseUrl, apiKey: 'env:UP_KEY', models: ['m'] }],
    keys: [
      { name: 'alice', key: ALICE, quota: 5 },
      { name: 'bob', key: BOB },
    ],
    prices: { m: { input: 100, output: 100 } },
    backup: {
      bucket: BUCKET,
      region: 'us-east-1',
      prefix: 'backups/sqlite/',
      endpoint: s3.config.endpoint,
      forcePathStyle: true,
    },
  };
}

async function backupCli(args: string[], dataDir: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runBackupCli(
    args,
    { RELAY_DATA_DIR: dataDir, RELAY_CONFIG: join(dataDir, 'relay.config.json') },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    { credentials: S3RVER_CREDENTIALS },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Everything a restore must bring back, as the store reports it. */
function snapshot(store: SqliteStore) {
  return {
    keys: store.listKeys(),
    usage: store.listUsage({ limit: 1000 }),
    alice: store.findKeyBySecret(ALICE)?.name,
    bob: store.findKeyBySecret(BOB)?.name,
  };
}

describe('database backup to S3 and restore', () => {
  let relay: TestRelay;
  let atBackup: ReturnType<typeof snapshot>;
  let dataDir: string;
  /** A key made with the keys CLI, not in the config file: only the database knows it. */
  let erin: string;

  beforeAll(async () => {
    relay = await startTestRelay(relayConfig(), { UP_KEY: 'sk-upstream' });
    dataDir = relay.dataDir;
    erin = relay
      .store()
      .createKey({ name: 'erin', quotaUsd: 3, models: ['*'], expiresAt: null, rpm: null }).secret;
    const ask = (key: string) =>
      relay.client(key).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
      });
    for (let i = 0; i < 3; i++) await ask(ALICE);
    await ask(BOB);
    await ask(erin);
    const store = relay.store();
    await eventually(() => expect(store.listUsage({ limit: 1000 })).toHaveLength(5));
    atBackup = snapshot(store);
    expect(atBackup.keys.find((k) => k.name === 'alice')!.usedMicros).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await relay.close().catch(() => {});
  });

  it('backs up the live database while the relay runs, WAL contents included', async () => {
    // The relay holds the database open in WAL mode: its latest rows are not in relay.db yet, so
    // a plain file copy would miss them. The online backup API does not.
    expect(readdirSync(dataDir)).toContain('relay.db-wal');
    const done = await backupCli(['now'], dataDir);
    expect(done.err).toBe('');
    expect(done.code).toBe(0);
    expect(done.out).toMatch(
      /^Backed up \d+ bytes to s3:\/\/relay-images\/backups\/sqlite\/\d{4}\/\d{2}\/\d{2}\/relay-.+\.db\.gz$/,
    );
    const listed = await backupCli(['list'], dataDir);
    expect(listed.out.split('\n')).toHaveLength(1);
  });

  it('restores the keys, their spend and every usage row as they were at the backup', async () => {
    // Life goes on after the backup: more spend, a new key, a new row.
    await relay.client(ALICE).chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'after the backup' }],
    });
    const later = relay.store();
    later.createKey({ name: 'carol', quotaUsd: 1, models: ['*'], expiresAt: null, rpm: null });
    await eventually(() => expect(later.listUsage({ limit: 1000 })).toHaveLength(6));
    await relay.close();

    const restored = await backupCli(['restore', '--latest'], dataDir);
    expect(restored.err).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.out).toContain('Restored backups/sqlite/');
    expect(restored.out).toContain('3 keys, 5 usage rows');
    expect(restored.out).toMatch(/kept at .*relay\.db\.before-restore-/);

    const store = new SqliteStore({ path: join(dataDir, 'relay.db') });
    try {
      expect(snapshot(store)).toEqual(atBackup);
      expect(store.getKey('carol')).toBeNull();
    } finally {
      store.close();
    }
    // The replaced database is kept whole, with the row written after the backup.
    const kept = readdirSync(dataDir).find((f) => /^relay\.db\.before-restore-[^-]+.*Z$/.test(f));
    expect(kept).toBeDefined();
    const old = new SqliteStore({ path: join(dataDir, kept!) });
    try {
      expect(old.listUsage({ limit: 1000 })).toHaveLength(6);
    } finally {
      old.close();
    }
  });

  it('a relay started on the restored database serves the restored keys', async () => {
    const again = await startRelay({
      env: {
        RELAY_DATA_DIR: dataDir,
        RELAY_CONFIG: join(dataDir, 'relay.config.json'),
        UP_KEY: 'sk-upstream',
      },
      logger: createLogger({ level: 'silent' }),
      port: 0,
      host: '127.0.0.1',
    });
    try {
      const client = new OpenAI({
        apiKey: erin,
        baseURL: `http://127.0.0.1:${again.port}/v1`,
        maxRetries: 0,
      });
      const answer = await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(answer.choices[0]!.message.content).toBe('Hello from the fault upstream.');
    } finally {
      await again.shutdown('test');
    }
  });
});

describe('restore refuses what it cannot use, and touches nothing', () => {
  it('a corrupt backup, a missing key and a missing backup section', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relay-restore-'));
    writeFileSync(join(dataDir, 'relay.config.json'), JSON.stringify(relayConfig()));
    const store = new SqliteStore({ path: join(dataDir, 'relay.db') });
    store.createKey({ name: 'dave', quotaUsd: 2, models: ['*'], expiresAt: null, rpm: null });
    store.close();
    const before = readFileSync(join(dataDir, 'relay.db'));

    const key = 'backups/sqlite/2026/01/01/relay-broken.db.gz';
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'not a gzip, not a database' }),
    );
    const corrupt = await backupCli(['restore', '--key', key], dataDir);
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/^error: /);

    const missing = await backupCli(
      ['restore', '--key', 'backups/sqlite/2026/01/01/none.db.gz'],
      dataDir,
    );
    expect(missing.code).toBe(1);

    expect(readFileSync(join(dataDir, 'relay.db'))).toEqual(before);
    expect(readdirSync(dataDir).filter((f) => f.includes('restore'))).toEqual([]);

    writeFileSync(join(dataDir, 'relay.config.json'), '{}');
    const unconfigured = await backupCli(['now'], dataDir);
    expect(unconfigured.code).toBe(2);
    expect(unconfigured.err).toContain('has no "backup" section');
    expect((await backupCli(['restore'], dataDir)).code).toBe(2);

    writeFileSync(
      join(dataDir, 'relay.config.json'),
      JSON.stringify({ ...relayConfig(), store: { type: 'dynamodb' } }),
    );
    const fleet = await backupCli(['now'], dataDir);
    expect(fleet.code).toBe(1);
    expect(fleet.err).toMatch(/DynamoDB, not in a SQLite file.*point-in-time recovery/);
  });
});
