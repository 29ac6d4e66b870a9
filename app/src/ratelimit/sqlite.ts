import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { admit } from './window.ts';
import type { Admission, RateWindows, WindowState } from './window.ts';

/** One row per rate-limited key: a handful of rows whatever the traffic, so nothing to prune. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS rate_windows (
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

/**
 * Rate windows every cluster worker sees: read, decide and write in one BEGIN IMMEDIATE
 * transaction, so two workers can never both admit the last request of a minute. Only keys
 * with an rpm limit come here; the cost is one small write transaction per such request
 * (WAL with synchronous=NORMAL: no fsync on commit).
 */
export class SqliteRateWindows implements RateWindows {
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;

  constructor(options: SqliteRateWindowsOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;',
    );
    this.#db.exec(SCHEMA);
    this.#select = this.#db.prepare(
      'SELECT start_ms AS start, count, previous FROM rate_windows WHERE key_id = ?',
    );
    this.#upsert = this.#db.prepare(
      `INSERT INTO rate_windows (key_id, start_ms, count, previous) VALUES (?, ?, ?, ?)
       ON CONFLICT (key_id) DO UPDATE SET start_ms = excluded.start_ms, count = excluded.count,
         previous = excluded.previous`,
    );
  }

  hit(keyId: number, rpm: number, t: number): Admission {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const row = this.#select.get(keyId) as WindowState | undefined;
      const a = admit(row, t, rpm);
      this.#upsert.run(keyId, a.next.start, a.next.count, a.next.previous);
      this.#db.exec('COMMIT');
      return a;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
