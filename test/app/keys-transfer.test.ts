/**
 * `keys export` / `keys import` between stores: keys travel as hashes with their balances, usage
 * as rows and daily rollups; an import is idempotent, and a dry run writes nothing.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportToFile, importStore } from '../../app/src/cli/keys-transfer.ts';
import { dynamoTransfer } from '../../app/src/store/dynamodb/transfer.ts';
import type { DynamoStore } from '../../app/src/store/dynamodb/store.ts';
import type { Store, UsageRow } from '../../app/src/store/types.ts';
import { startDynalite } from '../fixtures/dynalite.ts';
import type { Dynalite } from '../fixtures/dynalite.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db.close());

const row = (keyId: number, requestId: string, costMicros: number): UsageRow => ({
  requestId,
  keyId,
  keyName: 'alice',
  endpoint: '/v1/chat/completions',
  model: 'gpt-x',
  upstreamModel: 'gpt-x',
  channel: 'openai',
  status: 200,
  promptTokens: 10,
  completionTokens: 5,
  costMicros,
  latencyMs: 100,
  ttfbMs: 40,
  source: 'upstream',
  errorCode: null,
});

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
});
