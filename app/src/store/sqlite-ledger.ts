import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { DailyRollups } from './sqlite-rollups.ts';
import { INSERT_USAGE, usageValues } from './sqlite-rows.ts';
import { DEFAULT_LEASE_MS } from './store-config.ts';
import { StoreError } from './types.ts';
import type { Micros, Reservation, UsageRow } from './types.ts';

/** What the ledger shares with the store: its connection, clock, statements and rollups. */
export interface SqliteLedgerPort {
  readonly db: DatabaseSync;
  readonly now: () => number;
  readonly stmt: (sql: string) => StatementSync;
  readonly rollups: DailyRollups;
}

/** fn in a BEGIN IMMEDIATE transaction, rolled back if it throws. */
export function transaction<T>(
  db: DatabaseSync,
  stmt: (sql: string) => StatementSync,
  fn: () => T,
): T {
  stmt('BEGIN IMMEDIATE').run();
  try {
    const out = fn();
    stmt('COMMIT').run();
    return out;
  } catch (err) {
    if (db.isTransaction) stmt('ROLLBACK').run();
    throw err;
  }
}

/** SQLITE_BUSY or SQLITE_LOCKED (extended codes included), as node:sqlite reports them. */
function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: unknown }).errcode;
  return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

const SWEEP_EVERY_MS = 1000;

/**
 * The SQLite quota ledger: holds with a lease (rows of `holds`, summed in keys.reserved_micros),
 * settlements with their usage row, and the group commit they go through. node:sqlite is
 * synchronous, so each call is atomic with respect to every other request of this process; the
 * transactions make it so across processes on the file.
 */
export class SqliteLedger {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #stmt: (sql: string) => StatementSync;
  readonly #rollups: DailyRollups;
  /** When each key's expired holds are next looked for (see #dropExpiredHolds). */
  readonly #nextSweep = new Map<number, number>();
  #queued: {
    kind: 'hold' | 'settle';
    run: () => unknown;
    resolve: (value: unknown) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(port: SqliteLedgerPort) {
    this.#db = port.db;
    this.#now = port.now;
    this.#stmt = port.stmt;
    this.#rollups = port.rollups;
  }

  /** fn in a transaction of its own, or in the one already open (a group commit's). */
  #atomic<T>(fn: () => T): T {
    return this.#db.isTransaction ? fn() : this.#tx(fn);
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.#db, this.#stmt, fn);
  }

  /** A deleted key's holds go with it (in the caller's transaction). */
  dropKeyHolds(keyId: number): void {
    this.#stmt('DELETE FROM holds WHERE key_id = ?').run(keyId);
    this.#nextSweep.delete(keyId);
  }

  /**
   * At close: settlements still queued are written; holds are refused, since their requests
   * would run against a closed store and leave the hold behind.
   */
  closeQueued(): void {
    const holds = this.#queued.filter((q) => q.kind === 'hold');
    this.#queued = this.#queued.filter((q) => q.kind === 'settle');
    for (const q of holds) q.reject(new StoreError('the store is closed'));
    if (this.#db.isOpen && this.#queued.length > 0) this.#commitQueued();
  }

  /**
   * Holds `micros` for `leaseMs`. reserved_micros is the sum of the key's rows in `holds`; the
   * holds whose lease ended (their request's process died) are dropped first, so they count
   * no more.
   */
  reserve(keyId: number, micros: Micros, leaseMs = DEFAULT_LEASE_MS): Reservation | null {
    const amount = Math.max(0, Math.ceil(micros));
    const now = this.#now();
    return this.#atomic(() => {
      if (now >= (this.#nextSweep.get(keyId) ?? 0)) this.#dropExpiredHolds(keyId, now);
      const res = this.#stmt(
        `UPDATE keys SET reserved_micros = reserved_micros + ?
         WHERE id = ? AND (quota_micros IS NULL OR quota_micros - used_micros - reserved_micros >= ?)`,
      ).run(amount, keyId, amount);
      if (res.changes !== 1) return null;
      const expiresAt = now + leaseMs;
      const hold = this.#stmt(
        'INSERT INTO holds (key_id, micros, expires_at) VALUES (?, ?, ?)',
      ).run(keyId, amount, expiresAt);
      return { id: String(hold.lastInsertRowid), keyId, micros: amount, expiresAt };
    });
  }

  /**
   * At most once a second per key: the sweep (a scan of the holds in flight, which has no
   * index to keep up on every hold) costs more than the hold itself, and a lease that ended a
   * second ago is still reclaimed long before anyone misses it.
   */
  #dropExpiredHolds(keyId: number, now: number): void {
    this.#nextSweep.set(keyId, now + SWEEP_EVERY_MS);
    const expired = this.#stmt(
      'DELETE FROM holds WHERE key_id = ? AND expires_at <= ? RETURNING key_id, micros',
    ).all(keyId, now) as { key_id: number; micros: number }[];
    for (const hold of expired) this.#unreserve(hold.key_id, hold.micros);
  }

  #unreserve(keyId: number, micros: number): void {
    this.#stmt('UPDATE keys SET reserved_micros = MAX(0, reserved_micros - ?) WHERE id = ?').run(
      micros,
      keyId,
    );
  }

  /** Gives the hold back if it is still there (not already expired and dropped). */
  #dropHold(reservation: Reservation): void {
    // Row ids come back into use once the highest is gone (AUTOINCREMENT would cost a write
    // per hold), so the lease's end is matched too: a late settlement whose hold expired and
    // was swept never takes a newer hold that got its id.
    // The key is the hold row's, not the caller's: the row is the truth of what was held.
    const hold = this.#stmt(
      'DELETE FROM holds WHERE id = ? AND expires_at = ? RETURNING key_id, micros',
    ).get(Number(reservation.id), reservation.expiresAt) as
      { key_id: number; micros: number } | undefined;
    if (hold) this.#unreserve(hold.key_id, hold.micros);
  }

  /** QuotaLedger.extend: a compare-and-set on the lease's end (see types.ts). */
  extend(reservation: Reservation, leaseMs: number): Reservation | null {
    const now = this.#now();
    const expiresAt = now + leaseMs;
    const res = this.#stmt(
      'UPDATE holds SET expires_at = ? WHERE id = ? AND expires_at = ? AND expires_at > ?',
    ).run(expiresAt, Number(reservation.id), reservation.expiresAt, now);
    return res.changes === 1 ? { ...reservation, expiresAt } : null;
  }

  extendSoon(reservation: Reservation, leaseMs: number): Promise<Reservation | null> {
    return this.#enqueue('hold', () => this.extend(reservation, leaseMs));
  }

  settle(reservation: Reservation | null, usage: UsageRow): void {
    this.#tx(() => this.#settleOne(reservation, usage));
  }

  reserveSoon(keyId: number, micros: Micros, leaseMs?: number): Promise<Reservation | null> {
    return this.#enqueue('hold', () => this.reserve(keyId, micros, leaseMs));
  }

  settleSoon(reservation: Reservation | null, usage: UsageRow): Promise<void> {
    return this.#enqueue('settle', () => this.#settleOne(reservation, usage));
  }

  #enqueue<T>(kind: 'hold' | 'settle', run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queued.push({ kind, run, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queued.length === 1) setImmediate(() => this.#commitQueued());
    });
  }

  /**
   * One transaction for every hold and settlement queued since the last turn, in the order they
   * were asked for: a commit (a WAL append and its locking) costs far more than the statements
   * in it, so under load this turns thousands of commits a second into tens. If the batch fails,
   * each one is retried in a transaction of its own, so one bad row cannot take the others down.
   */
  #commitQueued(): void {
    const batch = this.#queued;
    this.#queued = [];
    if (batch.length === 0) return;
    if (!this.#db.isOpen) {
      for (const q of batch) q.reject(new StoreError('the store is closed'));
      return;
    }
    let results: unknown[] | undefined;
    try {
      results = this.#tx(() => batch.map((q) => q.run()));
    } catch (err) {
      // Locked by another process past busy_timeout: each retry would wait as long again.
      if (isBusy(err)) {
        for (const q of batch) q.reject(err);
        return;
      }
      for (const q of batch) {
        try {
          q.resolve(this.#tx(q.run));
        } catch (err) {
          q.reject(err);
        }
      }
      return;
    }
    batch.forEach((q, i) => q.resolve(results[i]));
  }

  #settleOne(reservation: Reservation | null, usage: UsageRow): void {
    if (reservation) this.#dropHold(reservation);
    let row = usage;
    if (usage.keyId !== null && usage.costMicros > 0) {
      // The hold was an estimate; if the upstream used more, the key is charged at most what it
      // has left, so that no interleaving of requests ever takes it past its quota. The row keeps
      // the full cost in `detail` for the operator.
      const key = this.#stmt(
        'SELECT quota_micros, used_micros, reserved_micros FROM keys WHERE id = ?',
      ).get(usage.keyId) as
        { quota_micros: number | null; used_micros: number; reserved_micros: number } | undefined;
      const room =
        key && key.quota_micros !== null
          ? Math.max(0, key.quota_micros - key.used_micros - key.reserved_micros)
          : Infinity;
      const charged = Math.min(Math.ceil(usage.costMicros), room);
      if (charged < usage.costMicros) {
        row = {
          ...usage,
          costMicros: charged,
          detail: { ...usage.detail, uncappedCostMicros: Math.ceil(usage.costMicros) },
        };
      }
      this.#stmt('UPDATE keys SET used_micros = used_micros + ? WHERE id = ?').run(
        charged,
        usage.keyId,
      );
    }
    this.#insertUsage(row);
  }

  release(reservation: Reservation): void {
    this.#atomic(() => this.#dropHold(reservation));
  }

  #insertUsage(u: UsageRow): void {
    const createdAt = this.#now();
    this.#stmt(INSERT_USAGE).run(...usageValues(u, createdAt));
    this.#rollups.add(u, createdAt);
  }
}
