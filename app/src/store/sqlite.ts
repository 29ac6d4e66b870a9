import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { memoryRateWindows } from '../ratelimit/window.ts';
import { DayCalendar } from '../usage/days.ts';
import type { AdminStore, KeyPatch } from './admin-types.ts';
import { generateKey, hashKey, isOldHint, keyHint, shortenOldHint } from './secrets.ts';
import { ADMIN_SCHEMA, createSqliteAdminStore, migrateAdminSchema } from './sqlite-admin.ts';
import type { Logger } from '../logger.ts';
import type { RelayLock } from './relay-lock.ts';
import { DailyRollups, ROLLUP_SCHEMA } from './sqlite-rollups.ts';
import { SqliteLedger, transaction } from './sqlite-ledger.ts';
import type { CommitTurns } from './sqlite-ledger.ts';
import { BackgroundCheckpoints } from './sqlite-checkpoint.ts';
import { openWalConnection } from './sqlite-connection.ts';
import { sqliteRoles } from './sqlite-roles.ts';
import { toStoredUsageRow } from './sqlite-rows.ts';
import { KEY_ROWS, USAGE_FILTER_INDEXES } from './sqlite-usage-scan.ts';
import { StoreError, usdToMicros } from './types.ts';
import type {
  KeyRecord,
  KeyStore,
  Micros,
  NewKey,
  QuotaLedger,
  RateWindows,
  Reservation,
  Store,
  UsageStore,
  StoredUsageRow,
  UsageRow,
  UsageSummaryRow,
} from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,
  quota_micros INTEGER,
  used_micros INTEGER NOT NULL DEFAULT 0,
  reserved_micros INTEGER NOT NULL DEFAULT 0,
  models TEXT NOT NULL DEFAULT '["*"]',
  expires_at INTEGER,
  rpm INTEGER,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  key_id INTEGER,
  key_name TEXT,
  endpoint TEXT NOT NULL,
  model TEXT,
  upstream_model TEXT,
  channel TEXT,
  status INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL DEFAULT 0,
  cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
  cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  ttfb_ms INTEGER,
  source TEXT NOT NULL,
  error_code TEXT,
  error_message TEXT,
  detail TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS holds (
  id INTEGER PRIMARY KEY,
  key_id INTEGER NOT NULL,
  micros INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO store_meta (name, value) VALUES ('keys_version', 0);
`;

/**
 * keys_version moves whenever a key's settings change, whoever changes them (this process, a
 * cluster worker, the keys CLI), so key caches can poll it. Not on spend and holds: those move
 * on every request. Created after the column migrations (tpm).
 */
const BUMP = "UPDATE store_meta SET value = value + 1 WHERE name = 'keys_version';";
const KEYS_VERSION_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS keys_version_insert AFTER INSERT ON keys BEGIN ${BUMP} END;
CREATE TRIGGER IF NOT EXISTS keys_version_delete AFTER DELETE ON keys BEGIN ${BUMP} END;
CREATE TRIGGER IF NOT EXISTS keys_version_update
  AFTER UPDATE OF name, hash, quota_micros, models, expires_at, rpm, tpm, enabled ON keys
  BEGIN ${BUMP} END;
`;

/**
 * For the admin console: time ranges, and lookups by request id (ids are time-ordered, so both
 * indexes grow at their end and cost little per row). Created after the column migrations.
 *
 * None on key_id (usage_key_time, dropped from files from before): a key's rows are found by
 * name (KEY_ROWS). Every index costs each usage row a B-tree insert and each group commit 1.5–2
 * WAL pages; that one was ~11 % of the WAL a usage row writes.
 */
const USAGE_INDEXES = `
CREATE INDEX IF NOT EXISTS usage_time ON usage (created_at);
CREATE INDEX IF NOT EXISTS usage_request ON usage (request_id);
DROP INDEX IF EXISTS usage_key_time;
`;

/** Token columns added with prompt caching and reasoning; rows from before read as 0. */
const USAGE_TOKEN_COLUMNS = [
  'cache_read_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'reasoning_tokens',
] as const;

interface KeyRow {
  id: number;
  name: string;
  hint: string;
  quota_micros: number | null;
  used_micros: number;
  reserved_micros: number;
  models: string;
  expires_at: number | null;
  rpm: number | null;
  tpm: number | null;
  enabled: number;
  created_at: number;
  /** Held by holds whose lease ended but that no reserve has swept yet (views only). */
  expired_micros?: number;
}

/**
 * A view's select: reserved_micros still counts expired holds until the key's next reserve
 * sweeps them (a write the read paths should not take), so they are subtracted here.
 */
const KEY_VIEW = `SELECT *, (SELECT COALESCE(SUM(micros), 0) FROM holds
  WHERE holds.key_id = keys.id AND holds.expires_at <= ?) AS expired_micros FROM keys`;

/** `live`: what the ledger holds in memory and has charged but not yet committed (SqliteLedger). */
function toKey(row: KeyRow, live: { readonly held: Micros; readonly pending: Micros }): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    hint: row.hint,
    quotaMicros: row.quota_micros,
    usedMicros: row.used_micros + live.pending,
    reservedMicros: Math.max(0, row.reserved_micros - (row.expired_micros ?? 0)) + live.held,
    models: JSON.parse(row.models) as string[],
    expiresAt: row.expires_at,
    rpm: row.rpm ?? null,
    tpm: row.tpm ?? null,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
  };
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  readonly path: string;
  readonly now?: () => number;
  /**
   * Drop quota holds left by a previous process (only the relay process itself should: a CLI
   * opening the same file must not release holds of requests that are still in flight).
   */
  readonly releaseStaleHolds?: boolean;
  /**
   * The zone daily rollups are counted in (config `usage.timeZone`). When it differs from the
   * one the rollups were written in, they are rebuilt from the raw rows still kept.
   * @default the zone last configured, else UTC
   */
  readonly timeZone?: string;
  /**
   * Where rate windows are counted: this process's memory (the default, for one process), or
   * SqliteRateWindows on the same file when cluster workers must share them. Closed with the store.
   */
  readonly rates?: RateWindows & { close?(): void };
  /**
   * Quota holds in this process's memory (SqliteLedger's single-process mode): only for the
   * only relay on the file (relay-lock.ts; relay-join.ts decides), or a ':memory:' database.
   */
  readonly holdsInMemory?: boolean;
  /** The relay lock this store was opened under; stepped down on a handover, closed with it. */
  readonly lock?: RelayLock;
  /**
   * WAL checkpoints in a worker thread instead of on the event loop (sqlite-checkpoint.ts),
   * while quota holds are in memory: for the only relay on a file (relay-join.ts), not the
   * keys CLI. A file path only.
   */
  readonly checkpointInBackground?: boolean;
  /**
   * The turns the group commit takes with a checkpoint running beside it.
   * @default the background checkpoints' (checkpointInBackground), else none
   */
  readonly commitTurns?: CommitTurns;
  /** Where failures that no caller sees are logged (the ledger's handover). */
  readonly logger?: Pick<Logger, 'error'>;
  /**
   * How long the group commit gathers settlements while holds are in memory.
   * @default COMMIT_WINDOW_MS (sqlite-ledger.ts)
   */
  readonly commitWindowMs?: number;
  /**
   * How often the background checkpoints run (checkpointInBackground).
   * @default CHECKPOINT_EVERY_MS (sqlite-checkpoint.ts)
   */
  readonly checkpointEveryMs?: number;
}

export class SqliteStore implements Store {
  readonly keys: KeyStore;
  readonly ledger: QuotaLedger;
  readonly usage: UsageStore;
  readonly rates: RateWindows & { close?(): void };
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #stmts: Record<string, StatementSync> = {};
  readonly #rollups: DailyRollups;
  #admin: AdminStore | undefined;
  readonly #ledger: SqliteLedger;
  readonly #lock: RelayLock | undefined;
  readonly #checkpoints: BackgroundCheckpoints | undefined;

  constructor(options: SqliteStoreOptions) {
    const everyMs = options.checkpointEveryMs;
    if (everyMs !== undefined && !(Number.isFinite(everyMs) && everyMs > 0))
      throw new RangeError(`checkpointEveryMs must be a positive number of ms, not ${everyMs}`);
    this.#db = openWalConnection(options.path);
    this.#now = options.now ?? Date.now;
    const fresh = !this.#hasTable('usage_daily');
    this.#db.exec(SCHEMA);
    this.#migrate();
    this.#db.exec(USAGE_INDEXES);
    this.#db.exec(USAGE_FILTER_INDEXES);
    this.#db.exec(ROLLUP_SCHEMA);
    this.#db.exec(ADMIN_SCHEMA);
    migrateAdminSchema(this.#db);
    const stored = DailyRollups.storedZone(this.#db);
    const zone = options.timeZone ?? stored ?? 'UTC';
    this.#rollups = new DailyRollups(this.#db, new DayCalendar(zone), this.#now);
    if (fresh || stored !== zone) {
      this.#rollups.rebuild(fresh ? undefined : stored);
      this.#rollups.seal();
    }
    this.#db.exec(KEYS_VERSION_TRIGGERS);
    if (options.releaseStaleHolds) {
      this.#db.exec(
        'DELETE FROM holds; UPDATE keys SET reserved_micros = 0 WHERE reserved_micros <> 0',
      );
    }
    this.#lock = options.lock;
    if (options.checkpointInBackground && options.holdsInMemory && options.path !== ':memory:')
      this.#checkpoints = new BackgroundCheckpoints(
        this.#db,
        options.path,
        options.checkpointEveryMs,
      );
    const commits = options.commitTurns ?? this.#checkpoints;
    this.#ledger = new SqliteLedger({
      db: this.#db,
      now: this.#now,
      stmt: (sql) => this.#stmt(sql),
      rollups: this.#rollups,
      holdsInMemory: options.holdsInMemory ?? false,
      onHandover: () => {
        this.#lock?.downgrade();
        this.#checkpoints?.close();
      },
      ...(commits && { commits }),
      ...(options.commitWindowMs !== undefined && { commitWindowMs: options.commitWindowMs }),
      onError: (err, message) => options.logger?.error({ err }, message),
    });
    this.rates = options.rates ?? memoryRateWindows();
    const roles = sqliteRoles(this);
    this.keys = roles.keys;
    this.ledger = roles.ledger;
    this.usage = roles.usage;
  }

  #hasTable(name: string): boolean {
    return (
      this.#db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        .get(name) !== undefined
    );
  }

  /** Admin API views over this same connection (see admin-types.ts). */
  get admin(): AdminStore {
    return (this.#admin ??= createSqliteAdminStore(this.#db, this.keys, this.#rollups, () =>
      this.committed(),
    ));
  }

  /** Columns added after the first release, for databases created before them. */
  #migrate(): void {
    const columnsOf = (table: string) =>
      new Set(
        (this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map(
          (c) => c.name,
        ),
      );
    const keys = columnsOf('keys');
    if (!keys.has('rpm')) this.#db.exec('ALTER TABLE keys ADD COLUMN rpm INTEGER');
    if (!keys.has('tpm')) this.#db.exec('ALTER TABLE keys ADD COLUMN tpm INTEGER');
    if (!keys.has('disabled_by_admin'))
      this.#db.exec('ALTER TABLE keys ADD COLUMN disabled_by_admin INTEGER NOT NULL DEFAULT 0');
    const usage = columnsOf('usage');
    for (const column of USAGE_TOKEN_COLUMNS) {
      if (!usage.has(column))
        this.#db.exec(`ALTER TABLE usage ADD COLUMN ${column} INTEGER NOT NULL DEFAULT 0`);
    }
    if (!usage.has('error_message'))
      this.#db.exec('ALTER TABLE usage ADD COLUMN error_message TEXT');
    this.#neverReuseKeyIds();
    // Hints stored before they were cut to the last four characters.
    this.#db.exec(`UPDATE keys SET hint = ${shortenOldHint('hint')} WHERE ${isOldHint('hint')}`);
  }

  /**
   * Files from before keys.id was AUTOINCREMENT get their keys table rebuilt once (ids kept):
   * without it, a key created after the newest one was deleted took its id, and with it the old
   * key's usage rows (totals by key id) and anything still settling against that id. A key
   * insert is rare, so AUTOINCREMENT's extra write (sqlite_sequence) costs nothing that matters.
   */
  #neverReuseKeyIds(): void {
    const { sql } = this.#db
      .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'keys'")
      .get() as { sql: string };
    if (/AUTOINCREMENT/i.test(sql)) return;
    const columns = (this.#db.prepare('PRAGMA table_info(keys)').all() as { name: string }[])
      .map((c) => c.name)
      .join(', ');
    const rebuilt = sql
      .replace(/^CREATE TABLE\s+(IF NOT EXISTS\s+)?"?keys"?/i, 'CREATE TABLE keys_rebuilt')
      .replace(/\bid INTEGER PRIMARY KEY\b/i, 'id INTEGER PRIMARY KEY AUTOINCREMENT');
    this.#tx(() => {
      this.#db.exec(rebuilt);
      this.#db.exec(`INSERT INTO keys_rebuilt (${columns}) SELECT ${columns} FROM keys`);
      this.#db.exec('DROP TABLE keys; ALTER TABLE keys_rebuilt RENAME TO keys');
    });
  }

  #stmt(sql: string): StatementSync {
    return (this.#stmts[sql] ??= this.#db.prepare(sql));
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.#db, (sql) => this.#stmt(sql), fn);
  }

  /** Spend and holds as the ledger knows them, in memory included. */
  #toKey(row: KeyRow): KeyRecord {
    return toKey(row, this.#ledger.inMemory(row.id));
  }

  #keyByName(name: string): KeyRecord | null {
    const row = this.#stmt(`${KEY_VIEW} WHERE name = ?`).get(this.#now(), name) as
      KeyRow | undefined;
    return row ? this.#toKey(row) : null;
  }

  #mustKey(name: string): KeyRecord {
    const key = this.#keyByName(name);
    if (!key) throw new StoreError(`no key named "${name}"`);
    return key;
  }

  upsertKey(key: NewKey & { readonly key: string }): KeyRecord {
    const hash = hashKey(key.key);
    const clash = this.#stmt('SELECT name FROM keys WHERE hash = ? AND name <> ?').get(
      hash,
      key.name,
    ) as { name: string } | undefined;
    if (clash) throw new StoreError(`key "${key.name}" has the same secret as key "${clash.name}"`);
    this.#stmt(
      `INSERT INTO keys (name, hash, hint, quota_micros, models, expires_at, rpm, tpm, enabled,
         created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, hint = excluded.hint,
         quota_micros = excluded.quota_micros, models = excluded.models,
         expires_at = excluded.expires_at, rpm = excluded.rpm, tpm = excluded.tpm,
         enabled = excluded.enabled AND NOT keys.disabled_by_admin`,
    ).run(
      key.name,
      hash,
      keyHint(key.key),
      key.quotaUsd == null ? null : usdToMicros(key.quotaUsd),
      JSON.stringify(key.models ?? ['*']),
      key.expiresAt ?? null,
      key.rpm ?? null,
      key.tpm ?? null,
      key.enabled === false ? 0 : 1,
      this.#now(),
    );
    return this.#mustKey(key.name);
  }

  createKey(key: NewKey): { record: KeyRecord; secret: string } {
    if (this.#keyByName(key.name)) throw new StoreError(`a key named "${key.name}" already exists`);
    const secret = generateKey();
    return { record: this.upsertKey({ ...key, key: secret }), secret };
  }

  findKeyBySecret(secret: string): KeyRecord | null {
    const row = this.#stmt('SELECT * FROM keys WHERE hash = ?').get(hashKey(secret)) as
      KeyRow | undefined;
    return row ? this.#toKey(row) : null;
  }

  getKey(name: string): KeyRecord | null {
    return this.#keyByName(name);
  }

  listKeys(): KeyRecord[] {
    return (this.#stmt(`${KEY_VIEW} ORDER BY name`).all(this.#now()) as unknown as KeyRow[]).map(
      (row) => this.#toKey(row),
    );
  }

  topUp(name: string, usd: number): KeyRecord {
    if (!Number.isFinite(usd) || usd <= 0)
      throw new StoreError('top-up amount must be a positive number of USD');
    const key = this.#mustKey(name);
    if (key.quotaMicros === null)
      throw new StoreError(`key "${name}" is unlimited; there is nothing to top up`);
    this.#stmt('UPDATE keys SET quota_micros = quota_micros + ? WHERE id = ?').run(
      usdToMicros(usd),
      key.id,
    );
    return this.#mustKey(name);
  }

  setEnabled(name: string, enabled: boolean): KeyRecord {
    return this.updateKey(name, { enabled });
  }

  /** Changes only the fields given; spend and holds stay. */
  updateKey(name: string, patch: KeyPatch): KeyRecord {
    const key = this.#mustKey(name);
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    const set = (column: string, value: string | number | null) => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (patch.quotaUsd !== undefined)
      set('quota_micros', patch.quotaUsd === null ? null : usdToMicros(patch.quotaUsd));
    if (patch.models !== undefined) set('models', JSON.stringify(patch.models));
    if (patch.expiresAt !== undefined) set('expires_at', patch.expiresAt);
    if (patch.rpm !== undefined) set('rpm', patch.rpm);
    if (patch.tpm !== undefined) set('tpm', patch.tpm);
    if (patch.enabled !== undefined) {
      set('enabled', patch.enabled ? 1 : 0);
      // Remembered apart from `enabled`, which the config file sets again at every start.
      set('disabled_by_admin', patch.enabled ? 0 : 1);
    }
    if (sets.length > 0)
      this.#db.prepare(`UPDATE keys SET ${sets.join(', ')} WHERE id = ?`).run(...values, key.id);
    return this.#mustKey(name);
  }

  /**
   * The key's holds go with it (a late settlement then frees nothing), and its rate windows
   * when cluster workers keep them in this file.
   */
  deleteKey(name: string): void {
    const key = this.#mustKey(name);
    this.#tx(() => {
      this.#ledger.dropKeyHolds(key.id);
      for (const table of ['rate_windows', 'token_windows']) {
        if (this.#hasTable(table))
          this.#db.prepare(`DELETE FROM ${table} WHERE key_id = ?`).run(key.id);
      }
      this.#stmt('DELETE FROM keys WHERE id = ?').run(key.id);
    });
  }

  /** The keys version (see KEYS_VERSION_TRIGGERS). */
  keysVersion(): number {
    return (
      this.#stmt("SELECT value FROM store_meta WHERE name = 'keys_version'").get() as {
        value: number;
      }
    ).value;
  }

  reserve(keyId: number, micros: Micros, leaseMs?: number): Reservation | null {
    return this.#ledger.reserve(keyId, micros, leaseMs);
  }

  /** True while quota holds are kept in memory (see SqliteLedger). */
  get holdsInMemory(): boolean {
    return this.#ledger.holdsInMemory;
  }

  /**
   * Asks the relay keeping holds in memory on this file to write them as rows, until `deadline`
   * (epoch ms), or stops asking (0). See SqliteLedger.requestHandover.
   */
  requestHandover(deadline: number): void {
    this.#ledger.requestHandover(deadline);
  }

  /** Writes the holds kept in memory as rows, from now on (see SqliteLedger.handOver). */
  handOver(): void {
    this.#ledger.handOver();
  }

  /** New holds wait until the returned function is called (see SqliteLedger.pauseHolds). */
  pauseHolds(): () => void {
    return this.#ledger.pauseHolds();
  }

  extend(reservation: Reservation, leaseMs: number): Reservation | null {
    return this.#ledger.extend(reservation, leaseMs);
  }

  settle(reservation: Reservation | null, usage: UsageRow): void {
    this.#ledger.settle(reservation, usage);
  }

  release(reservation: Reservation): void {
    this.#ledger.release(reservation);
  }

  recordUsage(usage: UsageRow): void {
    this.#ledger.settle(null, usage);
  }

  /** Decided now when holds are in memory and not paused, else undefined (see SqliteLedger). */
  reserveNow(keyId: number, micros: Micros, leaseMs?: number): Reservation | null | undefined {
    return this.#ledger.reserveNow(keyId, micros, leaseMs);
  }

  /** Through the group commit (see SqliteLedger). */
  reserveSoon(keyId: number, micros: Micros, leaseMs?: number): Promise<Reservation | null> {
    return this.#ledger.reserveSoon(keyId, micros, leaseMs);
  }

  extendSoon(reservation: Reservation, leaseMs: number): Promise<Reservation | null> {
    return this.#ledger.extendSoon(reservation, leaseMs);
  }

  settleSoon(reservation: Reservation | null, usage: UsageRow): Promise<void> {
    return this.#ledger.settleSoon(reservation, usage);
  }

  /**
   * Once every settlement queued so far is committed (SqliteLedger.committed): the usage role's
   * and the admin API's reads wait for it, so they show every request already answered.
   */
  committed(): Promise<void> {
    return this.#ledger.committed();
  }

  /** Days the raw rows no longer hold whole come from the daily rollups (by key name). */
  usageTotalMicros(keyId: number, fromMs: number, toMs: number): Micros {
    const { fromDay, toDay, rawFrom } = this.#rollups.split(fromMs, toMs);
    const row = this.#stmt(
      `SELECT
         (SELECT COALESCE(SUM(cost_micros), 0) FROM usage_daily
          WHERE key_name = (SELECT name FROM keys WHERE id = ?1) AND day >= ?2 AND day < ?3)
       + (SELECT COALESCE(SUM(cost_micros), 0) FROM ${KEY_ROWS}
          AND created_at >= ?4 AND created_at < ?5) AS total`,
    ).get(keyId, fromDay, toDay, rawFrom, toMs) as { total: number };
    return row.total;
  }

  /** Like usageTotalMicros: whole days before the raw rows' edge from the rollups. */
  usageSummary(filter: { keyName?: string; fromMs: number; toMs: number }): UsageSummaryRow[] {
    const { fromDay, toDay, rawFrom } = this.#rollups.split(filter.fromMs, filter.toMs);
    const key = filter.keyName ?? null;
    const rows = this.#stmt(
      `SELECT key_name, model, SUM(requests) AS requests, SUM(errors) AS errors,
         SUM(prompt) AS prompt, SUM(completion) AS completion, SUM(cache_read) AS cache_read,
         SUM(cache_write) AS cache_write, SUM(reasoning) AS reasoning, SUM(cost) AS cost
       FROM (
         SELECT NULLIF(key_name, '') AS key_name, NULLIF(model, '') AS model, requests, errors,
           prompt_tokens AS prompt, completion_tokens AS completion,
           cache_read_tokens AS cache_read,
           cache_write_5m_tokens + cache_write_1h_tokens AS cache_write,
           reasoning_tokens AS reasoning, cost_micros AS cost
         FROM usage_daily WHERE day >= ? AND day < ? AND (? IS NULL OR key_name = ?)
         UNION ALL
         SELECT key_name, model, 1, status >= 400, prompt_tokens, completion_tokens,
           cache_read_tokens, cache_write_5m_tokens + cache_write_1h_tokens, reasoning_tokens,
           cost_micros
         FROM usage WHERE created_at >= ? AND created_at < ? AND (? IS NULL OR key_name = ?)
       )
       GROUP BY key_name, model ORDER BY cost DESC, requests DESC`,
    ).all(fromDay, toDay, key, key, rawFrom, filter.toMs, key, key) as Record<
      string,
      number | string | null
    >[];
    return rows.map((r) => ({
      keyName: r.key_name as string | null,
      model: r.model as string | null,
      requests: Number(r.requests),
      errors: Number(r.errors),
      promptTokens: Number(r.prompt),
      completionTokens: Number(r.completion),
      cacheReadTokens: Number(r.cache_read),
      cacheWriteTokens: Number(r.cache_write),
      reasoningTokens: Number(r.reasoning),
      costMicros: Number(r.cost),
    }));
  }

  listUsage(filter: { keyId?: number; limit?: number } = {}): StoredUsageRow[] {
    const rows = (filter.keyId === undefined
      ? this.#stmt('SELECT * FROM usage ORDER BY id DESC LIMIT ?').all(filter.limit ?? 1000)
      : this.#stmt(`SELECT * FROM ${KEY_ROWS} ORDER BY id DESC LIMIT ?2`).all(
          filter.keyId,
          filter.limit ?? 1000,
        )) as unknown as Record<string, unknown>[];
    return rows.map(toStoredUsageRow);
  }

  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  /** close(), for callers that cannot await (process exit paths, tests). */
  closeNow(): void {
    this.rates.close?.();
    // First: the relay's close is then the file's last, which checkpoints and removes the WAL.
    this.#checkpoints?.close();
    this.#ledger.closeQueued();
    if (this.#db.isOpen) this.#db.close();
    // Last: until every settlement is committed, no other relay may take the file as its own.
    this.#lock?.close();
  }
}
