/**
 * `npm run keys -- export` and `import`: keys (as hashes), balances and usage from one store to
 * another, e.g. from the single host's SQLite file to the fleet's DynamoDB tables. The store
 * is the one the config names (RELAY_CONFIG's `store`), so moving is: export with the old
 * config, import with the new one.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { SqliteStore } from '../store/sqlite.ts';
import { sqliteTransfer } from '../store/sqlite-transfer.ts';
import { exportLines, importLines } from '../store/transfer.ts';
import type { ImportCounts, StoreTransfer } from '../store/transfer.ts';
import type { DynamoStoreConfig } from '../store/dynamodb/config.ts';

export interface TransferConfig {
  readonly store: { readonly type: 'sqlite' } | DynamoStoreConfig;
  readonly usage?: { readonly retainDays?: number; readonly timeZone?: string };
}

/** The configured store's transfer side; the SDK is loaded only for DynamoDB. */
export async function openTransfer(
  config: TransferConfig,
  sqlitePath: string,
): Promise<StoreTransfer> {
  const zone = config.usage?.timeZone ?? 'UTC';
  if (config.store.type === 'dynamodb') {
    const { openDynamoStore } = await import('../store/dynamodb/store.ts');
    const { dynamoTransfer } = await import('../store/dynamodb/transfer.ts');
    const { dynamoStoreOptions } = await import('../store/dynamodb/config.ts');
    return dynamoTransfer(
      await openDynamoStore(dynamoStoreOptions(config.store, config.usage)),
      zone,
    );
  }
  // Opened once as the relay would, so the file exists and its schema is current.
  const store = new SqliteStore({ path: sqlitePath, timeZone: zone });
  await store.close();
  return sqliteTransfer(sqlitePath);
}

export async function exportStore(source: StoreTransfer, out: Writable): Promise<number> {
  let lines = 0;
  for await (const line of exportLines(source)) {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
    lines++;
  }
  return lines;
}

export function importStore(
  target: StoreTransfer,
  file: string,
  dryRun: boolean,
): Promise<ImportCounts> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  return importLines(target, lines, { dryRun });
}

/** Writes to `file` (or stdout for '-'), finishing the file before it resolves. */
export async function exportToFile(source: StoreTransfer, file: string): Promise<number> {
  if (file === '-') return exportStore(source, process.stdout);
  const out = createWriteStream(file, { mode: 0o600 });
  const lines = await exportStore(source, out);
  out.end();
  await once(out, 'finish');
  return lines;
}

export function describeCounts(c: ImportCounts, dryRun: boolean): string[] {
  const verb = dryRun ? 'would be' : '';
  const part = (what: string, n: Record<string, number>) =>
    `${what}: ${Object.entries(n)
      .map(([k, v]) => `${v} ${verb ? `${verb} ` : ''}${k}`)
      .join(', ')}`;
  return [
    ...(dryRun ? ['dry run: nothing was written'] : []),
    part('keys', c.keys),
    part('rollups', c.rollups),
    part('rows', c.rows),
    ...(c.zoneMismatch
      ? [
          `warning: the export's daily rollups are days in ${c.zoneMismatch}, not in this store's zone`,
        ]
      : []),
  ];
}
