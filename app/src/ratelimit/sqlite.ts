import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openWalConnection } from '../store/sqlite-connection.ts';
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
 * with a limit come here; the cost is one small write transaction per request of a key with an
 * rpm (a key with only a tpm just reads: admission writes nothing to its window), and the tokens
 * of the requests settled in one event-loop turn are added in one transaction together
 * (WAL with synchronous=NORMAL: no fsync on commit).
 */
export class SqliteRateWindows implements RateWindows {
  readonly #db: DatabaseSync;
  readonly #selectRequests: StatementSync;
  readonly #selectTokens: StatementSync;
  readonly #upsertRequests: StatementSync;
  readonly #upsertTokens: StatementSync;
  #queuedTokens: {
    keyId: number;
    amount: number;
    t: number;
    resolve: () => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(options: SqliteRateWindowsOptions) {
    this.#db = openWalConnection(options.path);
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
    const tokens = () =>
      limits.tpm === null ? undefined : (this.#selectTokens.get(keyId) as WindowState | undefined);
    // Only a tpm: one read, no write lock (settled tokens are added by addTokens).
    if (limits.rpm === null) return decide(limits, undefined, tokens(), t).admission;
    return this.#tx(() => {
      const requests = this.#selectRequests.get(keyId) as WindowState | undefined;
      const d = decide(limits, requests, tokens(), t);
      if (d.requests) {
        this.#upsertRequests.run(keyId, d.requests.start, d.requests.count, d.requests.previous);
      }
      return d.admission;
    });
  }

  async hit(keyId: number, limits: RateLimits, t: number): Promise<RateAdmission> {
    return this.hitNow(keyId, limits, t);
  }

  /** Resolves once counted: with every other addTokens of this turn, in one transaction. */
  addTokens(keyId: number, amount: number, t: number): Promise<void> {
    if (amount <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queuedTokens.push({ keyId, amount, t, resolve, reject });
      if (this.#queuedTokens.length === 1) setImmediate(() => this.#countQueued());
    });
  }

  #countQueued(): void {
    const batch = this.#queuedTokens;
    this.#queuedTokens = [];
    try {
      this.#tx(() => {
        for (const q of batch) {
          const w = addTo(
            this.#selectTokens.get(q.keyId) as WindowState | undefined,
            q.t,
            q.amount,
          );
          this.#upsertTokens.run(q.keyId, w.start, w.count, w.previous);
        }
      });
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    for (const q of batch) q.resolve();
  }

  close(): void {
    // Tokens still queued are counted first, as the store commits its queued settlements.
    if (this.#db.isOpen && this.#queuedTokens.length > 0) this.#countQueued();
    if (this.#db.isOpen) this.#db.close();
  }
}
