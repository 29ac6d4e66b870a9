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
import { ConfigError, readRelayConfigInput } from '../config.ts';
import { sqlitePath } from '../store/create-store.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { storeConfigSchema } from '../store/store-config.ts';
import { StoreError } from '../store/types.ts';
import { sqliteTransfer } from '../store/sqlite-transfer.ts';
import { exportLines, importLines, TransferError } from '../store/transfer.ts';
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

/** The store and usage sections of RELAY_CONFIG, read as plain JSON (no secrets needed). */
export function transferConfig(env: Readonly<Record<string, string | undefined>>): TransferConfig {
  const { json } = readRelayConfigInput(env);
  const raw = (json ?? {}) as {
    store?: unknown;
    usage?: { timeZone?: unknown; retainDays?: unknown };
  };
  const section = storeConfigSchema.safeParse(raw.store);
  if (!section.success)
    throw new ConfigError(`store: ${section.error.issues.map((i) => i.message).join('; ')}`);
  const usage = raw.usage ?? {};
  return {
    store: section.data,
    usage: {
      ...(typeof usage.timeZone === 'string' && { timeZone: usage.timeZone }),
      ...(typeof usage.retainDays === 'number' && { retainDays: usage.retainDays }),
    },
  };
}

/**
 * `export [--out FILE]` (stdout without it) and `import --in FILE [--dry-run]`, on the store the
 * config names. Exit codes as the keys CLI: 0 ok, 1 failed, 2 bad usage.
 */
export async function runTransferCommand(
  command: 'export' | 'import',
  options: { readonly out?: string; readonly in?: string; readonly dryRun: boolean },
  env: Readonly<Record<string, string | undefined>>,
  io: { readonly out: (line: string) => void; readonly err: (line: string) => void },
): Promise<number> {
  if (command === 'import' && !options.in) {
    io.err('import needs --in FILE (a file written by export)');
    return 2;
  }
  let transfer: StoreTransfer | undefined;
  try {
    transfer = await openTransfer(transferConfig(env), sqlitePath(env.RELAY_DATA_DIR || './data'));
    if (command === 'export') {
      const file = options.out ?? '-';
      const lines = await exportToFile(transfer, file);
      if (file !== '-')
        io.out(`Exported ${lines} lines to ${file} (keys as hashes, never secrets).`);
      return 0;
    }
    const counts = await importStore(transfer, options.in!, options.dryRun);
    for (const line of describeCounts(counts, options.dryRun)) io.out(line);
    return 0;
  } catch (err) {
    if (err instanceof StoreError || err instanceof ConfigError || err instanceof TransferError) {
      io.err(`${command} failed: ${err.message}`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      io.err(`${command} failed: no such file ${(err as NodeJS.ErrnoException).path ?? ''}`);
      return 1;
    }
    throw err;
  } finally {
    await transfer?.close();
  }
}
