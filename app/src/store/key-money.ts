import type { StatementSync } from 'node:sqlite';
import type { Micros } from './types.ts';

/** A key's money as committed in the file (the ledger adds what it holds in memory). */
export interface KeyMoney {
  readonly quota_micros: number | null;
  used_micros: number;
  readonly reserved_micros: number;
}

/**
 * The keys' money as committed, cached for the ledger while its holds are in memory (the sole
 * relay writes every hold and charge itself). A read of the key's row costs a read transaction:
 * two fcntl locks on the WAL index, measured ~15 µs in the relay under load, twice a request.
 * The cache is dropped whenever anything else may have written:
 * - another connection (the keys CLI, the console of another process): `PRAGMA data_version`
 *   moves. It costs a read transaction too, so it is asked at most once per event-loop turn:
 *   a change committed elsewhere counts from the next turn on.
 * - this connection, outside the ledger's own writes (the admin API's top-ups, quota edits, key
 *   deletions): `total_changes()` moves. It takes no lock (< 1 µs), so it is asked at every read:
 *   such a change counts from the next call on, as before.
 * The ledger's own writes (a charge committed) update the cache instead: see ownWrite().
 */
export class KeyMoneyCache {
  readonly #stmt: (sql: string) => StatementSync;
  readonly #keys = new Map<number, KeyMoney>();
  /** This connection's total_changes() when the cache was last known right. */
  #mine = -1;
  /** PRAGMA data_version when last asked (it moves on other connections' commits only). */
  #theirs = -1;
  #askedThisTurn = false;
  readonly #nextTurn = () => (this.#askedThisTurn = false);

  constructor(stmt: (sql: string) => StatementSync) {
    this.#stmt = stmt;
  }

  /** The key's committed money; undefined when there is no such key. */
  get(keyId: number): KeyMoney | undefined {
    this.#dropIfWritten();
    const cached = this.#keys.get(keyId);
    if (cached) return cached;
    const key = this.#stmt(
      'SELECT quota_micros, used_micros, reserved_micros FROM keys WHERE id = ?',
    ).get(keyId) as KeyMoney | undefined;
    if (key) this.#keys.set(keyId, { ...key });
    return key;
  }

  /**
   * `write` runs the ledger's own statements; the cache stays, since the ledger tells it its
   * committed charges (charged()). Anything written on this connection before it still drops it.
   */
  ownWrite<T>(write: () => T): T {
    this.#dropIfMine();
    try {
      return write();
    } finally {
      this.#mine = this.#totalChanges();
    }
  }

  /** A charge of the ledger's is committed: the key's used_micros in the file moved by it. */
  charged(keyId: number, micros: Micros): void {
    const key = this.#keys.get(keyId);
    if (key) key.used_micros += micros;
  }

  clear(): void {
    this.#keys.clear();
  }

  #dropIfWritten(): void {
    this.#dropIfMine();
    if (this.#askedThisTurn) return;
    this.#askedThisTurn = true;
    setImmediate(this.#nextTurn);
    const { data_version: theirs } = this.#stmt('PRAGMA data_version').get() as {
      data_version: number;
    };
    if (theirs !== this.#theirs) this.#keys.clear();
    this.#theirs = theirs;
  }

  #dropIfMine(): void {
    const mine = this.#totalChanges();
    if (mine !== this.#mine) this.#keys.clear();
    this.#mine = mine;
  }

  #totalChanges(): number {
    return (this.#stmt('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}
