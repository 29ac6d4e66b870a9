import { DatabaseSync } from 'node:sqlite';
import { COUNTERS } from './sqlite-rollups.ts';
import { BUSY_TIMEOUT_MS } from './sqlite-connection.ts';
import { INSERT_USAGE, toStoredUsageRow, usageValues } from './sqlite-rows.ts';
import type {
  Change,
  StoreTransfer,
  TransferKey,
  TransferRollup,
  TransferRow,
} from './transfer.ts';
import { StoreError } from './types.ts';

const BATCH = 500;

function toTransferKey(r: Record<string, unknown>): TransferKey {
  return {
    name: r.name as string,
    hash: r.hash as string,
    hint: r.hint as string,
    quotaMicros: (r.quota_micros as number | null) ?? null,
    usedMicros: r.used_micros as number,
    models: JSON.parse(r.models as string) as string[],
    expiresAt: (r.expires_at as number | null) ?? null,
    rpm: (r.rpm as number | null) ?? null,
    tpm: (r.tpm as number | null | undefined) ?? null,
    enabled: r.enabled === 1,
    disabledByAdmin: r.disabled_by_admin === 1,
    createdAt: r.created_at as number,
  };
}

const same = (a: TransferKey, b: TransferKey) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The SQLite store's side of `keys export` / `keys import` (see transfer.ts), on a connection
 * of its own to the relay's database file (opened by the store first, so the schema is current).
 * Imported rollups replace the day's row; the single-dimension rollups are then derived again.
 */
export function sqliteTransfer(path: string): StoreTransfer {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS};`);
  const zone = db.prepare("SELECT value FROM meta WHERE name = 'rollup_time_zone'").get() as
    { value: string } | undefined;
  let rollupsChanged = false;
  const idOf = db.prepare('SELECT id FROM keys WHERE name = ?');
  return {
    timeZone: zone?.value ?? 'UTC',
    async exportKeys() {
      return (
        db.prepare('SELECT * FROM keys ORDER BY name').all() as Record<string, unknown>[]
      ).map(toTransferKey);
    },
    async *exportRollups() {
      let batch: TransferRollup[] = [];
      for (const r of db.prepare('SELECT * FROM usage_daily ORDER BY day').iterate() as Iterable<
        Record<string, unknown>
      >) {
        batch.push({
          day: r.day as string,
          keyName: r.key_name as string,
          model: r.model as string,
          channel: r.channel as string,
          sums: Object.fromEntries(COUNTERS.map((c) => [c, Number(r[c])])),
        });
        if (batch.length === BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
    async *exportRows() {
      const page = db.prepare(`SELECT * FROM usage WHERE id > ? ORDER BY id LIMIT ${BATCH}`);
      for (let after = 0; ;) {
        const rows = page.all(after) as Record<string, unknown>[];
        if (rows.length > 0) yield rows.map(toStoredUsageRow);
        if (rows.length < BATCH) return;
        after = rows[rows.length - 1]!.id as number;
      }
    },
    async importKey(k, dryRun): Promise<Change> {
      const existing = db.prepare('SELECT * FROM keys WHERE name = ?').get(k.name) as
        Record<string, unknown> | undefined;
      if (existing && same(toTransferKey(existing), k)) return 'unchanged';
      const clash = db
        .prepare('SELECT name FROM keys WHERE hash = ? AND name <> ?')
        .get(k.hash, k.name) as { name: string } | undefined;
      if (clash) throw new StoreError(`key "${k.name}" has the same secret as key "${clash.name}"`);
      if (!dryRun)
        db.prepare(
          `INSERT INTO keys (name, hash, hint, quota_micros, used_micros, models, expires_at, rpm, tpm,
             enabled, disabled_by_admin, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, hint = excluded.hint,
             quota_micros = excluded.quota_micros, used_micros = excluded.used_micros,
             models = excluded.models, expires_at = excluded.expires_at, rpm = excluded.rpm,
             tpm = excluded.tpm, enabled = excluded.enabled,
             disabled_by_admin = excluded.disabled_by_admin, created_at = excluded.created_at`,
        ).run(
          k.name,
          k.hash,
          k.hint,
          k.quotaMicros,
          k.usedMicros,
          JSON.stringify(k.models),
          k.expiresAt,
          k.rpm,
          k.tpm,
          k.enabled ? 1 : 0,
          k.disabledByAdmin ? 1 : 0,
          k.createdAt,
        );
      return existing ? 'updated' : 'created';
    },
    async importRollup(r, dryRun): Promise<Change> {
      const existing = db
        .prepare(
          'SELECT * FROM usage_daily WHERE day = ? AND key_name = ? AND model = ? AND channel = ?',
        )
        .get(r.day, r.keyName, r.model, r.channel) as Record<string, unknown> | undefined;
      const sums = COUNTERS.map((c) => r.sums[c] ?? 0);
      if (existing && COUNTERS.every((c, i) => Number(existing[c]) === sums[i])) return 'unchanged';
      if (!dryRun) {
        db.prepare(
          `INSERT OR REPLACE INTO usage_daily (day, key_name, model, channel, ${COUNTERS.join(', ')})
           VALUES (?, ?, ?, ?, ${COUNTERS.map(() => '?').join(', ')})`,
        ).run(r.day, r.keyName, r.model, r.channel, ...sums);
        rollupsChanged = true;
      }
      return existing ? 'updated' : 'created';
    },
    async importRows(rows: readonly TransferRow[], dryRun) {
      const seen = db.prepare('SELECT 1 FROM usage WHERE request_id = ? AND created_at = ?');
      const insert = db.prepare(INSERT_USAGE);
      let created = 0;
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const u of rows) {
          if (seen.get(u.requestId, u.createdAt)) continue;
          created++;
          if (dryRun) continue;
          const key =
            u.keyName === null ? undefined : (idOf.get(u.keyName) as { id: number } | undefined);
          insert.run(...usageValues({ ...u, keyId: key?.id ?? null }, u.createdAt));
        }
        db.exec('COMMIT');
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
      return created;
    },
    async close() {
      if (rollupsChanged) {
        // Derived from usage_daily again at the next report (sqlite-rollups.ts seal()).
        db.exec(
          "DELETE FROM usage_daily_dim; UPDATE meta SET value = '' WHERE name = 'rollup_dims_sealed_through'",
        );
      }
      db.close();
    },
  };
}
