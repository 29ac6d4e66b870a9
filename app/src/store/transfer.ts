/**
 * Moving keys, balances and usage between stores (SQLite ⇄ DynamoDB): `npm run keys -- export`
 * writes JSON lines, `import` reads them into the configured store. Keys travel as their
 * secret's hash (never a secret), with their quota and spend; usage as raw rows and daily
 * rollups. Holds do not travel: they belong to requests in flight on the source.
 *
 * Import is idempotent: keys are matched by name and set to the exported state, rows by
 * (request id, time), rollups by (day, key, model, channel) and set, not added. Importing the
 * same file twice changes nothing the second time. A dry run reports what it would change.
 */
import type { Micros, StoredUsageRow } from './types.ts';

export const TRANSFER_FORMAT = 'llm-relay-transfer';
export const TRANSFER_VERSION = 1;

/** The counters of a daily rollup row, as both stores keep them. */
export type RollupSums = Readonly<Record<string, number>>;

export interface TransferKey {
  readonly name: string;
  /** SHA-256 of the secret (secrets.ts hashKey). */
  readonly hash: string;
  readonly hint: string;
  readonly quotaMicros: Micros | null;
  readonly usedMicros: Micros;
  readonly models: readonly string[];
  readonly expiresAt: number | null;
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly enabled: boolean;
  /** Disabled from the console or CLI (the config file cannot switch it back on). */
  readonly disabledByAdmin: boolean;
  readonly createdAt: number;
}

export interface TransferRollup {
  readonly day: string;
  /** '' for none, as in the rollup tables. */
  readonly keyName: string;
  readonly model: string;
  readonly channel: string;
  readonly sums: RollupSums;
}

/** A usage row without the source's row id (the target gives its own). */
export type TransferRow = Omit<StoredUsageRow, 'id'>;

export type Change = 'created' | 'updated' | 'unchanged';

/** One store's side of a transfer. */
export interface StoreTransfer {
  /** The zone the rollups' days are in. */
  readonly timeZone: string;
  exportKeys(): Promise<TransferKey[]>;
  exportRollups(): AsyncIterable<readonly TransferRollup[]>;
  exportRows(): AsyncIterable<readonly StoredUsageRow[]>;
  importKey(key: TransferKey, dryRun: boolean): Promise<Change>;
  importRollup(rollup: TransferRollup, dryRun: boolean): Promise<Change>;
  /** Rows whose key is absent from the target keep their key name and lose their key id. */
  importRows(rows: readonly TransferRow[], dryRun: boolean): Promise<number>;
  close(): Promise<void>;
}

export type TransferLine =
  | {
      readonly kind: 'header';
      readonly format: typeof TRANSFER_FORMAT;
      readonly version: number;
      readonly timeZone: string;
    }
  | ({ readonly kind: 'key' } & TransferKey)
  | ({ readonly kind: 'rollup' } & TransferRollup)
  | ({ readonly kind: 'row' } & TransferRow);

/** The export, a line at a time: header, keys, rollups, then rows oldest first. */
export async function* exportLines(source: StoreTransfer): AsyncIterable<string> {
  const line = (l: TransferLine) => JSON.stringify(l);
  yield line({
    kind: 'header',
    format: TRANSFER_FORMAT,
    version: TRANSFER_VERSION,
    timeZone: source.timeZone,
  });
  for (const key of await source.exportKeys()) yield line({ kind: 'key', ...key });
  for await (const batch of source.exportRollups())
    for (const r of batch) yield line({ kind: 'rollup', ...r });
  for await (const batch of source.exportRows()) {
    for (const { id: _id, ...row } of batch) yield line({ kind: 'row', ...row });
  }
}

export interface ImportCounts {
  keys: Record<Change, number>;
  rollups: Record<Change, number>;
  rows: { created: number; unchanged: number };
  /** Set when the export's rollup days are in another zone than the target's. */
  zoneMismatch: string | null;
}

const ROW_BATCH = 100;

export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

/** Reads an export into `target`; keys before rows, so rows find their key's id in the target. */
export async function importLines(
  target: StoreTransfer,
  lines: AsyncIterable<string>,
  options: { readonly dryRun: boolean },
): Promise<ImportCounts> {
  const counts: ImportCounts = {
    keys: { created: 0, updated: 0, unchanged: 0 },
    rollups: { created: 0, updated: 0, unchanged: 0 },
    rows: { created: 0, unchanged: 0 },
    zoneMismatch: null,
  };
  let rows: TransferRow[] = [];
  const flush = async () => {
    if (rows.length === 0) return;
    const created = await target.importRows(rows, options.dryRun);
    counts.rows.created += created;
    counts.rows.unchanged += rows.length - created;
    rows = [];
  };
  let n = 0;
  let header = false;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let l: TransferLine;
    try {
      l = JSON.parse(text) as TransferLine;
    } catch {
      throw new TransferError(`line ${n} is not JSON`);
    }
    if (!header) {
      if (l.kind !== 'header' || l.format !== TRANSFER_FORMAT)
        throw new TransferError('not an llm-relay export (no header line)');
      if (l.version !== TRANSFER_VERSION)
        throw new TransferError(
          `export format version ${l.version} is not supported (this relay reads ${TRANSFER_VERSION})`,
        );
      if (l.timeZone !== target.timeZone) counts.zoneMismatch = l.timeZone;
      header = true;
      continue;
    }
    if (l.kind === 'key') {
      const { kind: _k, ...key } = l;
      counts.keys[await target.importKey(key, options.dryRun)]++;
    } else if (l.kind === 'rollup') {
      const { kind: _k, ...rollup } = l;
      counts.rollups[await target.importRollup(rollup, options.dryRun)]++;
    } else if (l.kind === 'row') {
      const { kind: _k, ...row } = l;
      rows.push(row);
      if (rows.length >= ROW_BATCH) await flush();
    } else throw new TransferError(`line ${n}: unknown kind`);
  }
  if (!header) throw new TransferError('the export is empty');
  await flush();
  return counts;
}
