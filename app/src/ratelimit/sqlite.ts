import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import type { RateAdmission, RateLimits, RateWindows } from '../store/types.ts';
import { addTo, decide } from './window.ts';
import type { WindowState } from './window.ts';

/**
 * One row per rate-limited key and window: a handful of rows whatever the traffic, so nothing to
 * prune. Token windows got a table of their own so that files from before them need no rewrite.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS rate_windows (
  key_id INTEGER PRIMARY KEY,
  start_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  previous INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS token_windows (
  key_id INTEGER PRIMARY KEY,
  start_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  previous INTEGER NOT NULL
);
`;

export interface SqliteRateWindowsOptions {
  /** The relay's database file (its own connection: the store's is not shared). */
  readonly path: string;
}

const upsertSql = (table: string) =>
  `INSERT INTO ${table} (key_id, start_ms, count, previous) VALUES (?, ?, ?, ?)
   ON CONFLICT (key_id) DO UPDATE SET start_ms = excluded.start_ms, count = excluded.count,
     previous = excluded.previous`;

const selectSql = (table: string) =>
  `SELECT start_ms AS start, count, previous FROM ${table} WHERE key_id = ?`;

/**
 * Rate windows every cluster worker sees: read, decide and write in one BEGIN IMMEDIATE
 * transaction, so two workers can never both admit the last request of a minute. Only keys
 * with a limit come here; the cost is one small write transaction per such request, and one
 * per settled request of a key with a tpm (WAL with synchronous=NORMAL: no fsync on commit).
 */
export class SqliteRateWindows implements RateWindows {
  readonly #db: DatabaseSync;
  readonly #selectRequests: StatementSync;
  readonly #selectTokens: StatementSync;
  readonly #upsertRequests: StatementSync;
  readonly #upsertTokens: StatementSync;

  constructor(options: SqliteRateWindowsOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;',
    );
    this.#db.exec(SCHEMA);
    this.#selectRequests = this.#db.prepare(selectSql('rate_windows'));
    this.#selectTokens = this.#db.prepare(selectSql('token_windows'));
    this.#upsertRequests = this.#db.prepare(upsertSql('rate_windows'));
    this.#upsertTokens = this.#db.prepare(upsertSql('token_windows'));
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Synchronous: node:sqlite is, and the transaction must not span an await. */
  hitNow(keyId: number, limits: RateLimits, t: number): RateAdmission {
    return this.#tx(() => {
      const requests =
        limits.rpm === null
          ? undefined
          : (this.#selectRequests.get(keyId) as WindowState | undefined);
      const tokens =
        limits.tpm === null
          ? undefined
          : (this.#selectTokens.get(keyId) as WindowState | undefined);
      const d = decide(limits, requests, tokens, t);
      if (d.requests) {
        this.#upsertRequests.run(keyId, d.requests.start, d.requests.count, d.requests.previous);
      }
      return d.admission;
    });
  }

  async hit(keyId: number, limits: RateLimits, t: number): Promise<RateAdmission> {
    return this.hitNow(keyId, limits, t);
  }

  async addTokens(keyId: number, amount: number, t: number): Promise<void> {
    if (amount <= 0) return;
    this.#tx(() => {
      const w = addTo(this.#selectTokens.get(keyId) as WindowState | undefined, t, amount);
      this.#upsertTokens.run(keyId, w.start, w.count, w.previous);
    });
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
