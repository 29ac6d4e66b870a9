import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Micros } from './types.ts';

/** A key's money as committed in the file (the ledger adds what it holds in memory). */
export interface KeyMoney {
  readonly quota_micros: number | null;
  used_micros: number;
  readonly reserved_micros: number;
}

/** The key's money as the file has it now; undefined when there is no such key. */
export function readKeyMoney(
  stmt: (sql: string) => StatementSync,
  keyId: number,
): KeyMoney | undefined {
  return stmt('SELECT quota_micros, used_micros, reserved_micros FROM keys WHERE id = ?').get(
    keyId,
  ) as KeyMoney | undefined;
}

/**
 * How often, at most, the cache asks whether another connection has committed. Under load the
 * group commit asks inside its own transaction once a window (COMMIT_WINDOW_MS, 10); the asks
 * between, a read transaction each, were 0.73 % of the relay's main thread at 1 ms and 0.34 %
 * at 10 (profiles at 10 connections, 2026-12-07). The keys CLI's writes count within 10 ms.
 */
export const THEIR_WRITES_EVERY_MS = 10;

/** Called by this connection's TEMP triggers on keys (see KeyMoneyCache). */
const CHANGED = 'relay_key_money_changed';
const TRIGGERS = ['key_money_insert', 'key_money_delete', 'key_money_update'] as const;

/**
 * The keys' money as committed, cached for the ledger while its holds are in memory (the sole
 * relay writes every hold and charge itself). A read of the key's row costs a read transaction:
 * two fcntl locks on the WAL index, ~15 µs in the relay under load, twice a request. The cache
 * is dropped whenever anything else may have written the keys' money:
 * - another connection (the keys CLI, another process's console, the relay's own checkpoint
 *   worker starting the WAL over): `PRAGMA data_version` moves.
 *   It costs a read transaction too, so it is asked at most every THEIR_WRITES_EVERY_MS: such a
 *   change counts within that long (as if committed that much later).
 * - this connection, outside the ledger's own writes (the admin API's top-ups, quota edits, key
 *   deletions): TEMP triggers on `keys` (they fire for this connection's statements only) drop
 *   it at once, so such a change counts from the next call on, whatever wrote it.
 * The ledger's own writes are muted (ownWrite) and tell the cache their committed charges
 * (charged()) instead.
 */
export class KeyMoneyCache {
  readonly #stmt: (sql: string) => StatementSync;
  readonly #keys = new Map<number, KeyMoney>();
  #muted = false;
  /** PRAGMA data_version when last asked (it moves on other connections' commits only). */
  #theirs = -1;
  #nextAsk = 0;

  constructor(db: DatabaseSync, stmt: (sql: string) => StatementSync) {
    this.#stmt = stmt;
    db.function(CHANGED, () => {
      if (!this.#muted) this.#keys.clear();
      return null;
    });
    const fire = `BEGIN SELECT ${CHANGED}(); END`;
    db.exec(`
      CREATE TEMP TRIGGER IF NOT EXISTS key_money_insert AFTER INSERT ON main.keys ${fire};
      CREATE TEMP TRIGGER IF NOT EXISTS key_money_delete AFTER DELETE ON main.keys ${fire};
      CREATE TEMP TRIGGER IF NOT EXISTS key_money_update
        AFTER UPDATE OF id, quota_micros, used_micros, reserved_micros ON main.keys ${fire};
    `);
  }

  /** The key's committed money; undefined when there is no such key. */
  get(keyId: number): KeyMoney | undefined {
    this.#dropIfTheirs();
    const cached = this.#keys.get(keyId);
    if (cached) return cached;
    const key = readKeyMoney(this.#stmt, keyId);
    if (key) this.#keys.set(keyId, { ...key });
    return key;
  }

  /** `write` runs the ledger's own statements, which report what they commit (charged()). */
  ownWrite<T>(write: () => T): T {
    this.#muted = true;
    try {
      return write();
    } finally {
      this.#muted = false;
    }
  }

  /** A charge of the ledger's is committed: the key's used_micros in the file moved by it. */
  charged(keyId: number, micros: Micros): void {
    const key = this.#keys.get(keyId);
    if (key) key.used_micros += micros;
  }

  /** Once holds are rows (a handover): the triggers would only cost every write its call. */
  close(db: DatabaseSync): void {
    this.#keys.clear();
    db.exec(TRIGGERS.map((name) => `DROP TRIGGER IF EXISTS temp.${name};`).join('\n'));
  }

  /**
   * Asks now, from inside a transaction of this connection's (the group commit's): there the
   * question takes no lock of its own (~0.5 µs instead of ~3 µs, more in a busy relay), and the
   * next ask outside waits THEIR_WRITES_EVERY_MS from here.
   */
  askInTransaction(): void {
    this.#ask(performance.now());
  }

  #dropIfTheirs(): void {
    const now = performance.now();
    if (now >= this.#nextAsk) this.#ask(now);
  }

  #ask(now: number): void {
    this.#nextAsk = now + THEIR_WRITES_EVERY_MS;
    const { data_version: theirs } = this.#stmt('PRAGMA data_version').get() as {
      data_version: number;
    };
    if (theirs !== this.#theirs) this.#keys.clear();
    this.#theirs = theirs;
  }
}
