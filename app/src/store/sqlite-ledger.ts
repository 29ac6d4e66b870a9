import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { KeyMoneyCache, readKeyMoney } from './key-money.ts';
import { MemoryHolds } from './memory-holds.ts';
import type { DailyRollups } from './sqlite-rollups.ts';
import { INSERT_USAGE, insertUsageRows, usageValues } from './sqlite-rows.ts';
import { DEFAULT_LEASE_MS } from './store-config.ts';
import { StoreError } from './types.ts';
import { BUSY_TIMEOUT_MS } from './sqlite-connection.ts';
import type { Micros, Reservation, UsageRow } from './types.ts';

/** What the ledger shares with the store: its connection, clock, statements and rollups. */
export interface SqliteLedgerPort {
  readonly db: DatabaseSync;
  readonly now: () => number;
  readonly stmt: (sql: string) => StatementSync;
  readonly rollups: DailyRollups;
  /**
   * Keep quota holds in this process's memory: only when no other relay process reserves on
   * the file (relay-lock.ts `sole`; ':memory:' databases trivially).
   */
  readonly holdsInMemory?: boolean;
  /** Called once the holds in memory are rows, after another relay asked to share the file. */
  readonly onHandover?: () => void;
  /** Asked before each group commit whether it may run now (BackgroundCheckpoints). */
  readonly commits?: CommitTurns;
  /** Told of a failure no caller sees (a handover that failed for a reason other than busy). */
  readonly onError?: (err: unknown, message: string) => void;
  /**
   * How long the group commit gathers settlements while holds are in memory.
   * @default COMMIT_WINDOW_MS
   */
  readonly commitWindowMs?: number;
}

/** Turns at the WAL's tail between the group commit and a checkpoint running beside it. */
export interface CommitTurns {
  /** True when a commit may run now; leave() follows it. False: ask again shortly. */
  enter(): boolean;
  leave(): void;
}

/** How soon a group commit that had to wait for a checkpoint asks again. */
const COMMIT_RETRY_MS = 1;

/**
 * Settlements a file locked past busy_timeout refused (a backup or another process holding its
 * write lock): tried again this often, without waiting on the lock, for up to BUSY_GIVE_UP_MS.
 */
const BUSY_RETRY_MS = 250;
const BUSY_GIVE_UP_MS = 60_000;

/**
 * While holds are in memory no request waits for a commit (settlements are written behind), so
 * the group commit waits this long after its first queued row, or until COMMIT_WINDOW_ROWS are
 * queued, whichever comes first: a commit's cost (its WAL frames, locks and page writes) is
 * shared by more rows than one event-loop turn brings. SIGKILL loses at most this window's rows.
 * A commit costs ~90 µs of the event loop (its ~9 WAL pages) and a row ~12 µs: at 10 ms a relay
 * answering 4,000 requests a second commits ~40 rows at a time (~14 µs a row), at 2 ms ~8
 * (~23 µs); past 10 ms the saving is small.
 */
export const COMMIT_WINDOW_MS = 10;
export const COMMIT_WINDOW_ROWS = 64;

/**
 * A group commit inserts its usage rows up to this many to a statement (in chunks of powers of
 * two, so that six prepared statements serve every batch size): a statement's own cost (a cursor
 * opened and closed on the table and on each of its indexes, each index searched from its root
 * again, the halt) is paid once for them all. Instructions a row: 8.8 K fewer at 5 rows a commit
 * and 11 K fewer at 40 (the same statements alone); the relay at 10 connections under callgrind,
 * ~5 rows a commit: sqlite3_step 50 K -> 43 K a request (Dec 2026).
 */
const ROWS_PER_INSERT = 32;

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

/** How often a ledger with holds in memory looks whether another relay asks to share the file. */
const HANDOVER_POLL_MS = 50;

/** store_meta's row by which a relay starting on the file asks the one in memory mode to share. */
const HANDOVER = 'ledger_handover';

/** Queued work of the group commit; `after` runs once it is committed or has failed. */
interface Queued {
  kind: 'hold' | 'settle';
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  after: ((committed: boolean) => void) | undefined;
}

/**
 * The SQLite quota ledger: holds with a lease (rows of `holds`, summed in keys.reserved_micros),
 * settlements with their usage row, and the group commit they go through. node:sqlite is
 * synchronous, so each call is atomic with respect to every other request of this process; the
 * transactions make it so across processes on the file.
 *
 * Single-process mode (`holdsInMemory`, when relay-lock.ts says no other relay is on the file):
 * holds are MemoryHolds, decided at once from the key's quota and spend (cached: KeyMoneyCache;
 * no write, no wait for the group commit): quota − used − charges decided but not yet
 * committed − held ≥ hold. The keys CLI's top-ups and quota edits count within
 * THEIR_WRITES_EVERY_MS, the admin API's from the next call. Settlements decide their charge at
 * once too (so that no interleaving passes the quota) and are written behind through the group
 * commit: close() (SIGTERM) commits every one; SIGKILL loses at most those queued since the last
 * commit (one COMMIT_WINDOW_MS), each with its charge (a row and its charge commit together),
 * and the holds (they die with the only process that could settle them: exactly right). When
 * another relay starts on the file it asks (HANDOVER) for the holds, which are then written as
 * rows with their ids and leases, and this ledger goes on with rows like every process beside it.
 */
export class SqliteLedger {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #stmt: (sql: string) => StatementSync;
  readonly #rollups: DailyRollups;
  /** When each key's expired holds are next looked for (see #dropExpiredHolds). */
  readonly #nextSweep = new Map<number, number>();
  #queued: Queued[] = [];
  /** While a group commit's batch runs: its usage rows' values (#insertingTogether). */
  #usageRows: SQLInputValue[][] | undefined;
  /** While a group commit's batch runs with holds in memory: its charges per key (#charging). */
  #charges: Map<number, Micros> | undefined;
  /** The holds, while in single-process mode. */
  #memory: MemoryHolds | undefined;
  /** The keys' committed money, while in single-process mode (see KeyMoneyCache). */
  #money: KeyMoneyCache | undefined;
  #handoverPoll: ReturnType<typeof setInterval> | undefined;
  readonly #onHandover: (() => void) | undefined;
  readonly #commits: CommitTurns | undefined;
  readonly #windowMs: number;
  /** The group commit's next run: its window's end, or its retry after a checkpoint's turn. */
  #commitTimer: ReturnType<typeof setTimeout> | undefined;
  /** Since when the file has refused the group commit as busy (see #waitOutBusy). */
  #busySince: number | undefined;
  /** The busy error that made settlements wait (a handover meanwhile fails with it). */
  #busyError: unknown;
  /** Set by closeQueued: a busy file's settlements fail at once (#waitOutBusy). */
  #closing = false;
  readonly #onError: ((err: unknown, message: string) => void) | undefined;
  /** The handover failures already told: retried every poll, told once each. */
  readonly #toldFailures = new Set<string>();
  /** While set, new holds wait for it (a relay rejoining the relay lock, see relay-join.ts). */
  #paused: Promise<void> | undefined;
  /** Reads waiting in committed(), each released once, at its commit or when the file is busy. */
  readonly #readers = new Set<() => void>();

  constructor(port: SqliteLedgerPort) {
    this.#db = port.db;
    this.#now = port.now;
    this.#stmt = port.stmt;
    this.#rollups = port.rollups;
    this.#onHandover = port.onHandover;
    this.#commits = port.commits;
    this.#onError = port.onError;
    this.#windowMs = port.commitWindowMs ?? COMMIT_WINDOW_MS;
    if (port.holdsInMemory) this.#keepHoldsInMemory();
  }

  #keepHoldsInMemory(): void {
    const { next } = this.#stmt('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM holds').get() as {
      next: number;
    };
    this.#memory = new MemoryHolds(next);
    this.#money = new KeyMoneyCache(this.#db, this.#stmt);
    this.#handoverPoll = setInterval(() => this.#answerHandover(), HANDOVER_POLL_MS);
    // A store left open must not keep the process alive.
    this.#handoverPoll.unref();
  }

  /** True while holds are kept in memory (single-process mode). */
  get holdsInMemory(): boolean {
    return this.#memory !== undefined;
  }

  /** What the key holds in memory and has been charged but not yet committed (views add it). */
  inMemory(keyId: number): { readonly held: Micros; readonly pending: Micros } {
    const memory = this.#memory;
    return memory ? { held: memory.held(keyId), pending: memory.pending(keyId) } : NONE;
  }

  /**
   * A relay starting on the file asks the one keeping holds in memory to share (relay-lock.ts)
   * until `deadline` (epoch ms, renewed while it waits), or stops asking (0). A deadline, not a
   * flag: a request left by an asker that died lapses by itself, instead of making every later
   * relay on the file hand its holds over the moment it starts.
   */
  requestHandover(deadline: number): void {
    this.#stmt('INSERT OR REPLACE INTO store_meta (name, value) VALUES (?, ?)').run(
      HANDOVER,
      deadline,
    );
  }

  #answerHandover(): void {
    try {
      const asked = this.#stmt('SELECT value FROM store_meta WHERE name = ?').get(HANDOVER) as
        { value: number } | undefined;
      // Wall-clock time, not the store's clock: the deadline is another process's.
      if (asked && asked.value > Date.now()) this.handOver();
    } catch (err) {
      // Busy past busy_timeout (the other relay's migrations): asked again at the next poll,
      // and the relay waiting for the holds waits on. Never a crash from a timer. Any other
      // failure (disk full, a hold id already taken) comes back at every poll, and the waiting
      // relay gives up blaming this one: said here once, where the cause is known.
      if (isBusy(err) || !this.#onError) return;
      const message = err instanceof Error ? err.message : String(err);
      if (this.#toldFailures.has(message)) return;
      this.#toldFailures.add(message);
      this.#onError(
        err,
        'cannot hand the quota holds kept in memory over to another relay; retrying',
      );
    }
  }

  /**
   * New holds wait until `resume` is called: while a relay rejoins the relay lock, another one
   * may still keep holds in memory that the rows do not show.
   */
  pauseHolds(): () => void {
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    this.#paused = paused;
    return () => {
      if (this.#paused === paused) this.#paused = undefined;
      resume();
    };
  }

  /**
   * Writes the holds in memory as rows (ids and leases kept, so the requests holding them settle
   * as if they always had been rows), after every settlement decided so far; from then on holds
   * are rows. If the file is busy it is tried again at the next poll.
   */
  handOver(): void {
    const memory = this.#memory;
    if (!memory || !this.#db.isOpen) return;
    this.#commitQueued(true);
    // Settlements a busy file made wait (#waitOutBusy) are written before the holds: once holds
    // are rows, rows are all another relay reads. The busy error: asked again at the next poll.
    if (this.#queued.length > 0) throw this.#busyError;
    this.#tx(() => {
      for (const h of memory.all()) {
        this.#stmt('INSERT INTO holds (id, key_id, micros, expires_at) VALUES (?, ?, ?, ?)').run(
          Number(h.id),
          h.keyId,
          h.micros,
          h.expiresAt,
        );
        this.#stmt('UPDATE keys SET reserved_micros = reserved_micros + ? WHERE id = ?').run(
          h.micros,
          h.keyId,
        );
      }
    });
    this.#memory = undefined;
    this.#money?.close(this.#db);
    this.#money = undefined;
    clearInterval(this.#handoverPoll);
    this.#onHandover?.();
  }

  /** fn in a transaction of its own, or in the one already open (a group commit's). */
  #atomic<T>(fn: () => T): T {
    return this.#db.isTransaction ? fn() : this.#tx(fn);
  }

  /** The ledger's own writes, which tell KeyMoneyCache what they commit. */
  #ownWrite<T>(fn: () => T): T {
    return this.#money ? this.#money.ownWrite(fn) : fn();
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.#db, this.#stmt, fn);
  }

  /** A deleted key's holds go with it (in the caller's transaction). */
  dropKeyHolds(keyId: number): void {
    this.#stmt('DELETE FROM holds WHERE key_id = ?').run(keyId);
    this.#memory?.dropKey(keyId);
    this.#nextSweep.delete(keyId);
  }

  /**
   * Resolves once every settlement queued so far is committed (or has failed): for reads that
   * must show every request already answered (a client's usage report right after its request,
   * the admin console). The queue is committed at once, in its turn with a checkpoint like any
   * group commit, else as that turn ends: a commit in the checkpoint's turn would keep the WAL
   * from starting over, and a client reading its usage after every request could then keep it
   * growing. Settlements run in queue order, so the last one done means all are. A file another
   * process holds (#waitOutBusy) releases the reads at once: they show what is committed rather
   * than wait up to BUSY_GIVE_UP_MS.
   */
  committed(): Promise<void> {
    const last = this.#queued.findLast((q) => q.kind === 'settle');
    if (!last) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      const release = () => {
        this.#readers.delete(release);
        resolve();
      };
      this.#readers.add(release);
      const after = last.after;
      last.after = (committed) => {
        after?.(committed);
        release();
      };
    });
    // Inside a transaction (no read is today) the batch's BEGIN would fail: the window's timer.
    if (!this.#db.isTransaction) this.#commitQueued();
    return done;
  }

  /**
   * At close: settlements still queued are written; holds are refused, since their requests
   * would run against a closed store and leave the hold behind.
   */
  closeQueued(): void {
    clearInterval(this.#handoverPoll);
    const holds = this.#queued.filter((q) => q.kind === 'hold');
    this.#queued = this.#queued.filter((q) => q.kind === 'settle');
    for (const q of holds) settled(q, false, new StoreError('the store is closed'));
    // One last try that waits out busy_timeout in full; nothing is left to try again after it.
    this.#closing = true;
    this.#busySince = undefined;
    if (this.#db.isOpen && this.#queued.length > 0) this.#commitQueued(true);
  }

  /**
   * Holds `micros` for `leaseMs`. reserved_micros is the sum of the key's rows in `holds`; the
   * holds whose lease ended (their request's process died) are dropped first, so they count
   * no more.
   */
  reserve(keyId: number, micros: Micros, leaseMs = DEFAULT_LEASE_MS): Reservation | null {
    const amount = Math.max(0, Math.ceil(micros));
    const now = this.#now();
    if (this.#memory) return this.#reserveInMemory(this.#memory, keyId, amount, now + leaseMs);
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
   * The key's money read from KeyMoneyCache, not written: a reserve here costs no transaction
   * at all, and most often not even a read one (see KeyMoneyCache).
   */
  #reserveInMemory(
    memory: MemoryHolds,
    keyId: number,
    amount: Micros,
    expiresAt: number,
  ): Reservation | null {
    const room = this.#room(keyId);
    if (room === undefined || room < amount) return null;
    return memory.add(keyId, amount, expiresAt);
  }

  /**
   * What the key has left: quota − used − reserved (rows) − held and charged in memory;
   * Infinity without a quota, undefined when there is no such key.
   */
  #room(keyId: number): number | undefined {
    // Said as the group commit says it, not as node:sqlite's finalized statement does.
    if (!this.#db.isOpen) throw new StoreError('the store is closed');
    const key = this.#money ? this.#money.get(keyId) : readKeyMoney(this.#stmt, keyId);
    if (!key) return undefined;
    if (key.quota_micros === null) return Infinity;
    const { held, pending } = this.inMemory(keyId);
    return key.quota_micros - key.used_micros - key.reserved_micros - held - pending;
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
    if (this.#memory) return this.#memory.extend(reservation, expiresAt);
    const res = this.#stmt(
      'UPDATE holds SET expires_at = ? WHERE id = ? AND expires_at = ? AND expires_at > ?',
    ).run(expiresAt, Number(reservation.id), reservation.expiresAt, now);
    return res.changes === 1 ? { ...reservation, expiresAt } : null;
  }

  settle(reservation: Reservation | null, usage: UsageRow): void {
    if (!this.#memory) return this.#tx(() => this.#settleOne(reservation, usage));
    const { row, charged } = this.#decide(this.#memory, reservation, usage);
    this.#ownWrite(() => this.#tx(() => this.#write(row, charged)));
    if (row.keyId !== null) this.#money?.charged(row.keyId, charged);
  }

  /** In memory and not paused (pauseHolds): decided now. Else undefined (see reserveSoon). */
  reserveNow(keyId: number, micros: Micros, leaseMs?: number): Reservation | null | undefined {
    if (this.#paused || !this.#memory) return undefined;
    return this.reserve(keyId, micros, leaseMs);
  }

  /** In memory: decided now, nothing to commit. Else through the group commit. */
  reserveSoon(keyId: number, micros: Micros, leaseMs?: number): Promise<Reservation | null> {
    if (this.#paused) return this.#paused.then(() => this.reserveSoon(keyId, micros, leaseMs));
    if (this.#memory) return decidedNow(() => this.reserve(keyId, micros, leaseMs));
    return this.#enqueue('hold', () => this.reserve(keyId, micros, leaseMs));
  }

  extendSoon(reservation: Reservation, leaseMs: number): Promise<Reservation | null> {
    if (this.#memory) return decidedNow(() => this.extend(reservation, leaseMs));
    return this.#enqueue('hold', () => this.extend(reservation, leaseMs));
  }

  /**
   * In memory, the hold is freed and the charge decided now (counted as pending until its
   * commit), and only the writes wait for the group commit.
   */
  settleSoon(reservation: Reservation | null, usage: UsageRow): Promise<void> {
    const memory = this.#memory;
    if (!memory) return this.#enqueue('settle', () => this.#settleOne(reservation, usage));
    let decided: { row: UsageRow; charged: Micros };
    try {
      decided = this.#decide(memory, reservation, usage);
    } catch (err) {
      return Promise.reject(err);
    }
    const { row, charged } = decided;
    const keyId = row.keyId;
    if (keyId === null || charged <= 0) return this.#enqueue('settle', () => this.#write(row, 0));
    const done = memory.charging(keyId, charged);
    return this.#enqueue(
      'settle',
      () => this.#write(row, charged),
      (committed) => {
        done();
        if (committed) this.#money?.charged(keyId, charged);
      },
    );
  }

  #enqueue<T>(
    kind: 'hold' | 'settle',
    run: () => T,
    after?: (committed: boolean) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const resolveAny = resolve as (value: unknown) => void;
      this.#queued.push({ kind, run, resolve: resolveAny, reject, after });
      this.#scheduleCommit(this.#queued.length);
    });
  }

  /** With holds as rows a reserve waits for its commit: the next turn; else COMMIT_WINDOW_MS. */
  #scheduleCommit(queued: number): void {
    if (!this.#memory) {
      if (queued === 1) setImmediate(() => this.#commitQueued());
    } else if (queued === 1) {
      this.#commitTimer = setTimeout(() => this.#commitQueued(), this.#windowMs);
    } else if (queued === COMMIT_WINDOW_ROWS) {
      clearTimeout(this.#commitTimer);
      setImmediate(() => this.#commitQueued());
    }
  }

  /**
   * One transaction for every hold and settlement queued since the last commit, in the order they
   * were asked for: a commit (a WAL append and its locking) costs far more than the statements
   * in it, so under load this turns thousands of commits a second into tens. If the batch fails,
   * each one is retried in a transaction of its own, so one bad row cannot take the others down.
   * While a checkpoint copies the WAL (CommitTurns) the batch waits and grows; `now`: not even
   * then (a handover, close).
   */
  #commitQueued(now = false): void {
    clearTimeout(this.#commitTimer);
    // Only while holds are in memory: no request waits for these commits then. With holds as
    // rows a reserve does, and a checkpoint's few ms would be its own.
    const turns =
      now || !this.#memory || this.#queued.length === 0 || !this.#db.isOpen
        ? undefined
        : this.#commits;
    if (turns && !turns.enter()) {
      this.#commitTimer = setTimeout(() => this.#commitQueued(), COMMIT_RETRY_MS);
      return;
    }
    try {
      this.#ownWrite(() => this.#commitBatch());
    } finally {
      turns?.leave();
    }
  }

  #commitBatch(): void {
    const batch = this.#queued;
    this.#queued = [];
    if (batch.length === 0) return;
    if (!this.#db.isOpen) {
      for (const q of batch) settled(q, false, new StoreError('the store is closed'));
      return;
    }
    let results: unknown[] | undefined;
    try {
      results = this.#pollingIfBusy(() =>
        this.#tx(() =>
          this.#rollups.gathering(() => this.#insertingTogether(() => this.#charging(batch))),
        ),
      );
      this.#busySince = undefined;
    } catch (err) {
      if (isBusy(err)) {
        this.#waitOutBusy(batch, err);
        return;
      }
      for (const q of batch) {
        try {
          settled(q, true, this.#tx(q.run));
        } catch (err) {
          settled(q, false, err);
        }
      }
      return;
    }
    batch.forEach((q, i) => settled(q, true, results[i]));
  }

  /**
   * While the file is busy, a retry asks for the lock without waiting on it: busy_timeout blocks
   * the event loop, and the first try has already waited that long.
   */
  #pollingIfBusy<T>(fn: () => T): T {
    if (this.#busySince === undefined) return fn();
    this.#db.exec('PRAGMA busy_timeout = 0');
    try {
      return fn();
    } finally {
      this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /**
   * A batch the file refused as busy: its holds fail (their requests get an error and spend
   * nothing), its settlements go back to the head of the queue and are tried again every
   * BUSY_RETRY_MS, for up to BUSY_GIVE_UP_MS: a usage row is billing data, not to be dropped for
   * a lock another process holds a while. Their charges stay counted meanwhile (no overspend).
   */
  #waitOutBusy(batch: readonly Queued[], err: unknown): void {
    for (const release of [...this.#readers]) release();
    const now = Date.now();
    const first = this.#busySince === undefined;
    this.#busySince ??= now;
    this.#busyError = err;
    const wait = !this.#closing && this.#db.isOpen && now - this.#busySince < BUSY_GIVE_UP_MS;
    const waiting = wait ? batch.filter((q) => q.kind === 'settle') : [];
    for (const q of batch) if (!waiting.includes(q)) settled(q, false, err);
    if (waiting.length === 0) {
      this.#busySince = undefined;
      return;
    }
    if (first) this.#onError?.(err, 'the database is busy: usage rows wait and are tried again');
    this.#queued = [...waiting, ...this.#queued];
    clearTimeout(this.#commitTimer);
    this.#commitTimer = setTimeout(() => this.#commitQueued(), BUSY_RETRY_MS);
  }

  /**
   * The batch's calls, their charges summed per key and written once each at the end (same
   * transaction), while holds are in memory: a commit's rows mostly share one key. With holds
   * as rows a reserve in the batch reads the key's spend, so each charge is written in its turn.
   */
  #charging(batch: readonly Queued[]): unknown[] {
    if (!this.#memory) return batch.map((q) => q.run());
    const charges = new Map<number, Micros>();
    this.#charges = charges;
    this.#money?.askInTransaction();
    try {
      const results = batch.map((q) => q.run());
      for (const [keyId, micros] of charges) this.#charge(keyId, micros, true);
      return results;
    } finally {
      this.#charges = undefined;
    }
  }

  #charge(keyId: number, micros: Micros, now = false): void {
    const charges = this.#charges;
    if (charges && !now) charges.set(keyId, (charges.get(keyId) ?? 0) + micros);
    else
      this.#stmt('UPDATE keys SET used_micros = used_micros + ? WHERE id = ?').run(micros, keyId);
  }

  #settleOne(reservation: Reservation | null, usage: UsageRow): void {
    if (reservation) this.#dropHold(reservation);
    const { row, charged } = this.#capped(usage);
    this.#write(row, charged);
  }

  /** A settlement in memory: the hold freed and the charge decided (to be written behind). */
  #decide(
    memory: MemoryHolds,
    reservation: Reservation | null,
    usage: UsageRow,
  ): { row: UsageRow; charged: Micros } {
    if (reservation) memory.take(reservation);
    return this.#capped(usage);
  }

  /**
   * The hold was an estimate; if the upstream used more, the key is charged at most what it has
   * left, so that no interleaving of requests ever takes it past its quota. The row keeps the
   * full cost in `detail` for the operator.
   */
  #capped(usage: UsageRow): { row: UsageRow; charged: Micros } {
    if (usage.keyId === null || usage.costMicros <= 0) return { row: usage, charged: 0 };
    const cost = Math.ceil(usage.costMicros);
    const charged = Math.min(cost, Math.max(0, this.#room(usage.keyId) ?? Infinity));
    if (charged >= usage.costMicros) return { row: usage, charged };
    const detail = { ...usage.detail, uncappedCostMicros: cost };
    return { row: { ...usage, costMicros: charged, detail }, charged };
  }

  /** A settlement's writes: the charge and the usage row, always in one transaction. */
  #write(row: UsageRow, charged: Micros): void {
    if (row.keyId !== null && charged > 0) this.#charge(row.keyId, charged);
    this.#insertUsage(row);
  }

  release(reservation: Reservation): void {
    if (this.#memory) this.#memory.take(reservation);
    else this.#atomic(() => this.#dropHold(reservation));
  }

  #insertUsage(u: UsageRow): void {
    const createdAt = this.#now();
    const values = usageValues(u, createdAt);
    if (this.#usageRows) this.#usageRows.push(values);
    else this.#stmt(INSERT_USAGE).run(...values);
    this.#rollups.add(u, createdAt);
  }

  /**
   * The usage rows of `fn`'s settlements inserted together when it ends, in their order and the
   * same transaction (ROWS_PER_INSERT): nothing reads them before the commit.
   */
  #insertingTogether<T>(fn: () => T): T {
    const rows: SQLInputValue[][] = [];
    this.#usageRows = rows;
    let out: T;
    try {
      out = fn();
    } finally {
      this.#usageRows = undefined;
    }
    for (let at = 0; at < rows.length;) {
      const count = Math.min(ROWS_PER_INSERT, 1 << (31 - Math.clz32(rows.length - at)));
      this.#stmt(insertUsageRows(count)).run(...valuesOf(rows, at, at + count));
      at += count;
    }
    return out;
  }
}

const NONE = { held: 0, pending: 0 } as const;

/**
 * Rows `from` to `to` (excluded), their values one after another (flat() took ~4 K more
 * instructions a row).
 */
function valuesOf(rows: readonly SQLInputValue[][], from: number, to: number): SQLInputValue[] {
  const values: SQLInputValue[] = [];
  for (let i = from; i < to; i++) for (const value of rows[i]!) values.push(value);
  return values;
}

/**
 * A call decided at once, as the promise its callers chain .catch on (RequestUsage.finish): a
 * throw (a closed store) becomes the rejection the group commit would have given.
 */
function decidedNow<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Ends a queued call: its `after` first, so that pending charges are gone before anyone reads on. */
function settled(q: Queued, ok: boolean, value: unknown): void {
  q.after?.(ok);
  if (ok) q.resolve(value);
  else q.reject(value);
}
