/**
 * `keys export` / `keys import` between stores: keys travel as hashes with their balances, usage
 * as rows and daily rollups; an import is idempotent, and a dry run writes nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runKeysCli } from '../../app/src/cli/keys.ts';
import { exportToFile, importStore } from '../../app/src/cli/keys-transfer.ts';
import { dynamoTransfer } from '../../app/src/store/dynamodb/transfer.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { sqliteTransfer } from '../../app/src/store/sqlite-transfer.ts';
import type { DynamoStore } from '../../app/src/store/dynamodb/store.ts';
import type { Store, UsageRow } from '../../app/src/store/types.ts';
import { usageRow } from '../fixtures/usage-row.ts';
import { startDynalite, TEST_CREDENTIALS, TEST_REGION } from '../fixtures/dynalite.ts';
import type { Dynalite } from '../fixtures/dynalite.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db.close());

const row = (keyId: number, requestId: string, costMicros: number): UsageRow =>
  usageRow({ keyId, keyName: 'alice', requestId, costMicros });

/** A store with two keys, one of them with spend and two usage rows. */
async function seed(store: Store): Promise<string> {
  const { record, secret } = await store.keys.create({
    name: 'alice',
    quotaUsd: 1,
    rpm: 5,
    tpm: 500,
  });
  await store.keys.create({ name: 'bob' });
  await store.keys.setEnabled('bob', false);
  for (const [id, cost] of [
    ['r1', 300],
    ['r2', 200],
  ] as const) {
    const hold = await store.ledger.reserve(record.id, cost, 60_000);
    await store.ledger.settle(hold, row(record.id, id, cost));
  }
  return secret;
}

async function expectSeeded(store: Store, secret: string): Promise<void> {
  const alice = await store.keys.findBySecret(secret);
  expect(alice).toMatchObject({
    name: 'alice',
    quotaMicros: 1_000_000,
    usedMicros: 500,
    reservedMicros: 0,
    rpm: 5,
    tpm: 500,
  });
  expect((await store.keys.get('bob'))?.enabled).toBe(false);
  const rows = await store.usage.list({ keyId: alice!.id });
  expect(rows.map((r) => [r.requestId, r.costMicros])).toEqual([
    ['r2', 200],
    ['r1', 300],
  ]);
  expect(await store.usage.totalMicros(alice!.id, 0, Date.now() + 86_400_000 * 3)).toBe(500);
  const [summary] = await store.usage.summary({
    keyName: 'alice',
    fromMs: 0,
    toMs: Date.now() + 86_400_000 * 3,
  });
  expect(summary).toMatchObject({ requests: 2, costMicros: 500 });
}

const tmp = () => join(mkdtempSync(join(tmpdir(), 'keys-transfer-')), 'export.jsonl');

describe('keys export / import', () => {
  it('moves keys (as hashes), balances and usage from one DynamoDB store to another, idempotently', async () => {
    const source = await db.store();
    const secret = await seed(source);
    const file = tmp();
    await exportToFile(dynamoTransfer(source as DynamoStore, 'UTC'), file);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(secret);

    const target = await db.store();
    const dry = await importStore(dynamoTransfer(target, 'UTC'), file, true);
    expect(dry).toMatchObject({ keys: { created: 2 }, rows: { created: 2 } });
    expect(await target.keys.list()).toEqual([]);

    const first = await importStore(dynamoTransfer(target, 'UTC'), file, false);
    expect(first).toMatchObject({
      keys: { created: 2 },
      rollups: { created: 1 },
      rows: { created: 2 },
    });
    await expectSeeded(target, secret);
    const again = await importStore(dynamoTransfer(target, 'UTC'), file, false);
    expect(again).toMatchObject({
      keys: { created: 0, updated: 0, unchanged: 2 },
      rollups: { created: 0, updated: 0, unchanged: 1 },
      rows: { created: 0, unchanged: 2 },
    });
    await expectSeeded(target, secret);
  });
  it('moves a single host to DynamoDB and back: SQLite → DynamoDB → SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-transfer-sqlite-'));
    const path = join(dir, 'relay.db');
    const sqlite = new SqliteStore({ path });
    const secret = await seed(sqlite);
    await sqlite.close();
    const file = tmp();
    await exportToFile(sqliteTransfer(path), file);
    expect(readFileSync(file, 'utf8')).not.toContain(secret);

    const dynamo = await db.store();
    const dry = await importStore(dynamoTransfer(dynamo, 'UTC'), file, true);
    expect(dry).toMatchObject({
      keys: { created: 2 },
      rollups: { created: 1 },
      rows: { created: 2 },
    });
    expect(await dynamo.keys.list()).toEqual([]);
    await importStore(dynamoTransfer(dynamo, 'UTC'), file, false);
    await expectSeeded(dynamo, secret);
    expect(await importStore(dynamoTransfer(dynamo, 'UTC'), file, false)).toMatchObject({
      keys: { unchanged: 2 },
      rollups: { unchanged: 1 },
      rows: { created: 0, unchanged: 2 },
    });

    const back = tmp();
    await exportToFile(dynamoTransfer(dynamo, 'UTC'), back);
    const path2 = join(dir, 'relay2.db');
    await new SqliteStore({ path: path2 }).close();
    const target = sqliteTransfer(path2);
    expect(await importStore(target, back, false)).toMatchObject({
      keys: { created: 2 },
      rows: { created: 2 },
    });
    expect(await importStore(target, back, false)).toMatchObject({
      keys: { unchanged: 2 },
      rows: { unchanged: 2 },
    });
    await target.close();
    const reopened = new SqliteStore({ path: path2 });
    await expectSeeded(reopened, secret);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it('runs as `npm run keys -- export` and `import`, from the stores two config files name', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    const dir = mkdtempSync(join(tmpdir(), 'keys-transfer-cli-'));
    const sqliteConfig = join(dir, 'single.json');
    writeFileSync(sqliteConfig, JSON.stringify({ store: { type: 'sqlite' } }));
    const sqlite = new SqliteStore({ path: join(dir, 'relay.db') });
    const secret = await seed(sqlite);
    await sqlite.close();
    const fleetConfig = join(dir, 'fleet.json');
    const tablePrefix = await db.tables();
    writeFileSync(
      fleetConfig,
      JSON.stringify({
        store: { type: 'dynamodb', tablePrefix, region: TEST_REGION, endpoint: db.endpoint },
      }),
    );
    const file = join(dir, 'export.jsonl');
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`err: ${l}`) };
    const env = (config: string) => ({ RELAY_CONFIG: config, RELAY_DATA_DIR: dir });

    expect(await runKeysCli(['export', '--out', file], env(sqliteConfig), io)).toBe(0);
    expect(await runKeysCli(['import', '--in', file, '--dry-run'], env(fleetConfig), io)).toBe(0);
    expect(lines).toContain('keys: 2 would be created, 0 would be updated, 0 would be unchanged');
    expect(await runKeysCli(['import', '--in', file], env(fleetConfig), io)).toBe(0);
    expect(lines).toContain('rows: 2 created, 0 unchanged');
    expect(await runKeysCli(['import'], env(fleetConfig), io)).toBe(2);
    expect(
      await runKeysCli(['import', '--in', join(dir, 'nope.jsonl')], env(fleetConfig), io),
    ).toBe(1);
    const fleet = await db.store({ tablePrefix });
    await expectSeeded(fleet, secret);
    await fleet.close();
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });
});
