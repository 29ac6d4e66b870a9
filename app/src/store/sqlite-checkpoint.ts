import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { BUSY_TIMEOUT_MS } from './sqlite-connection.ts';
import type { CommitTurns } from './sqlite-ledger.ts';

/**
 * How often the worker copies the WAL back into the database file. Each round copies every page
 * the WAL holds once (its last version), syncs both files, and makes the relay's connection read
 * its hot pages again; the same few pages (each table's and index's last leaf) are in every
 * round, so fewer rounds copy less. 100 -> 500 ms at 10 connections: the worker's CPU 3.9-4.0 ->
 * 1.6-2.8 µs a request, its fsyncs 4 times fewer, the relay's own `pread`s 0.058 -> 0.013 a
 * request (perf stat, Dec 2026). The price: the WAL grows longer between rounds (its file's
 * largest size under that load, ~5,000 requests a second: 1.1 -> 8.6 MB, under
 * JOURNAL_SIZE_LIMIT), and a power loss can roll back what was committed since the last round
 * (synchronous=NORMAL).
 */
export const CHECKPOINT_EVERY_MS = 500;

/**
 * Past this many WAL pages (~40 MiB, as the worker last counted them) the relay checkpoints on
 * its own connection, if the worker has not finished a checkpoint for STUCK_MS more than a round
 * (else the next one starts the WAL over anyway, and a checkpoint of 10,000 pages on the event
 * loop is the very stall this file is here to avoid: 30-60 ms measured); past 4 times as many,
 * whatever the worker does. A relay that commits once a request (a client reading its usage after
 * every call: each read commits what is queued) can pass the first cap within a round: 28-54 MB
 * in the WAL test's loop run with 500 ms rounds, 14 MB with 100 ms.
 */
const WAL_PAGE_CAP = 10_000;
const STUCK_MS = 1000;

/** A WAL left larger than this by a burst is cut back to it when it starts over. */
export const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** Slots of the buffer shared with the worker. */
const STOP = 0;
const CLOSED = 1;
/** Who uses the WAL's tail: IDLE, the relay COMMITTING, or the worker CHECKPOINTING. */
const PHASE = 2;
/** WAL pages the worker saw at its last checkpoint. */
const WAL_PAGES = 3;
/** Checkpoints the worker has finished: 0 until its first (SQLite's automatic ones go on). */
const DONE = 4;
const SLOTS = 5;
const IDLE = 0;
const COMMITTING = 1;
const CHECKPOINTING = 2;
/** WAL frames of the worker's own write (user_version: page 1 alone). */
const OWN_FRAMES = 1;

/**
 * The worker, as plain CommonJS evaluated in its thread: the relay ships as a bundle, where a
 * worker file of its own would not be found. Each round, two checkpoints: the first beside the
 * commits (nearly all the copying and syncing), the second in its turn between group commits
 * (CommitTurns: the frames committed during the first), so that the WAL is copied whole with no
 * commit after it and the next commit starts it over from its first page. A checkpoint
 * racing the commits never catches up with the last one: the WAL then never starts over and
 * grows until the cap, and the cap's checkpoint on the relay's connection was the ~30 ms stall
 * seen before turns were taken. `finally` tells close() it is done, whatever happened.
 *
 * A WAL copied whole is started over by the first commit after it, which writes a new header
 * and syncs it (an fsync, even at synchronous=NORMAL): that was the relay's next commit, on the
 * event loop, several times a second under load (~0.2 ms on a local disk, a few ms on network
 * storage). The worker makes that first commit itself, in its turn: a write of the file's
 * user_version (page 1; nothing reads it), left out when the WAL holds nothing but its own last
 * one (OWN_FRAMES) so that an idle relay writes nothing. It never waits for the write lock:
 * the writer holding it, or next round's, starts the WAL over. The price: a commit of another
 * connection's makes the relay's drop its page cache, so it reads its ~24 hot pages again after
 * each round (from the OS's cache: 0.013 `pread`s a request at 10 connections with 500 ms
 * rounds, 0.058 with 100 ms), and its cache of the keys' money (KeyMoneyCache); and a write of
 * the relay's outside the group commit's turns (an admin edit, a handover) may wait a few ms for
 * this one.
 */
const WORKER = `
const { DatabaseSync } = require('node:sqlite');
const { workerData } = require('node:worker_threads');
const { path, shared, everyMs, busyMs, journalSizeLimit } = workerData;
const state = new Int32Array(shared);
const [STOP, CLOSED, PHASE, WAL_PAGES, DONE] = [${STOP}, ${CLOSED}, ${PHASE}, ${WAL_PAGES}, ${DONE}];
const [IDLE, COMMITTING, CHECKPOINTING] = [${IDLE}, ${COMMITTING}, ${CHECKPOINTING}];
let db;
try {
  db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = ' + busyMs);
  // Starting the WAL over is this connection's now: a WAL grown by a burst is cut back then,
  // and its write syncs the new header alone, as the relay's commits would (NORMAL, not FULL).
  db.exec('PRAGMA journal_size_limit = ' + journalSizeLimit + '; PRAGMA synchronous = NORMAL');
  const statement = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const startOver = db.prepare('PRAGMA user_version = 0');
  const checkpoint = () => {
    try {
      const done = statement.get();
      Atomics.store(state, WAL_PAGES, done.log);
      Atomics.add(state, DONE, 1);
      return done;
    } catch {
      // Busy (another process's checkpoint, or its migrations): tried again next round.
    }
  };
  const startOverIfCopied = (done) => {
    if (!done || done.log <= ${OWN_FRAMES} || done.checkpointed !== done.log) return;
    db.exec('PRAGMA busy_timeout = 0');
    try {
      startOver.run();
    } catch {
      // Another connection writes: its commit, or next round's write, starts the WAL over.
    } finally {
      db.exec('PRAGMA busy_timeout = ' + busyMs);
    }
  };
  do {
    checkpoint();
    while (Atomics.compareExchange(state, PHASE, IDLE, CHECKPOINTING) !== IDLE) {
      if (Atomics.load(state, STOP)) break;
      Atomics.wait(state, PHASE, COMMITTING, 5);
    }
    if (Atomics.load(state, PHASE) !== CHECKPOINTING) break;
    try {
      startOverIfCopied(checkpoint());
    } finally {
      Atomics.store(state, PHASE, IDLE);
    }
  } while (Atomics.wait(state, STOP, 0, everyMs) === 'timed-out');
} finally {
  if (db && db.isOpen) db.close();
  Atomics.store(state, CLOSED, 1);
  Atomics.notify(state, CLOSED);
}
`;

/**
 * WAL checkpoints off the event loop, for the only relay on a SQLite file: a checkpoint copies
 * pages into the database file and syncs both files, 1-10 ms (more on a busy disk) on the event
 * loop for the commit that set off SQLite's automatic one (every 1000 pages: ~100 usage rows at
 * one per commit). Here a worker thread with a connection of its own checkpoints every 500 ms,
 * and the relay's connection does not (once the worker has done its first). Either cuts a WAL
 * grown past 16 MiB back when it starts the WAL over (journal_size_limit).
 *
 * The ledger asks enter() before each group commit: false while the worker has its turn (its
 * second checkpoint, see WORKER), and the commit waits (with the rows it batches meanwhile) for
 * its end. The worker starts at the first commit (a store that never writes starts no thread)
 * and is stopped by close().
 */
export class BackgroundCheckpoints implements CommitTurns {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #state = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
  #worker: Worker | undefined;
  /** Set when the worker died: SQLite's automatic checkpoints are back, and commits never wait. */
  #failed = false;
  #closed = false;
  #exited = false;
  /** The worker's count of checkpoints, as last seen, and when it last moved. */
  #done = 0;
  #doneAt = 0;

  /** The worker's rounds: a checkpoint is late once a round and STUCK_MS have passed. */
  readonly #everyMs: number;

  /** `everyMs`: checked by SqliteStore, before it opens anything. */
  constructor(db: DatabaseSync, path: string, everyMs = CHECKPOINT_EVERY_MS) {
    this.#db = db;
    this.#path = path;
    this.#everyMs = everyMs;
    db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  }

  enter(): boolean {
    if (this.#failed || this.#closed) return true;
    this.#worker ??= this.#start();
    return Atomics.compareExchange(this.#state, PHASE, IDLE, COMMITTING) === IDLE;
  }

  /** After a commit enter() let through; in its turn still, the cap's checkpoint if due. */
  leave(): void {
    if (this.#failed || this.#closed || !this.#worker) return;
    this.#watchWorker();
    Atomics.store(this.#state, PHASE, IDLE);
    Atomics.notify(this.#state, PHASE);
  }

  #watchWorker(): void {
    const done = Atomics.load(this.#state, DONE);
    const now = performance.now();
    if (done !== this.#done) {
      // The first one: the worker runs (a thread takes tens of ms to start).
      if (this.#done === 0) this.#db.exec('PRAGMA wal_autocheckpoint = 0');
      this.#done = done;
      this.#doneAt = now;
    }
    const pages = Atomics.load(this.#state, WAL_PAGES);
    const stuck = done > 0 && now - this.#doneAt > this.#everyMs + STUCK_MS;
    if (pages > 4 * WAL_PAGE_CAP || (pages > WAL_PAGE_CAP && stuck)) {
      Atomics.store(this.#state, WAL_PAGES, 0);
      try {
        this.#db.exec('PRAGMA wal_checkpoint(PASSIVE)');
      } catch {
        // Busy: another process checkpoints; the worker's next count asks again.
      }
    }
  }

  #start(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      // Not the process's flags: with --input-type=module (node -e), WORKER would be a module.
      execArgv: [],
      workerData: {
        path: this.#path,
        shared: this.#state.buffer,
        everyMs: this.#everyMs,
        busyMs: BUSY_TIMEOUT_MS,
        journalSizeLimit: JOURNAL_SIZE_LIMIT,
      },
    });
    // Never what keeps a process alive: close() stops it, and a process may exit without.
    worker.unref();
    worker.on('error', () => this.#fail());
    worker.on('exit', () => {
      this.#exited = true;
    });
    return worker;
  }

  #fail(): void {
    this.#failed = true;
    if (this.#db.isOpen) this.#db.exec('PRAGMA wal_autocheckpoint = 1000');
  }

  /**
   * Stops the worker and waits (for a checkpoint in progress at most) until its connection is
   * closed, so that the relay's own close is the file's last, which leaves no WAL behind. The
   * relay's connection checkpoints as SQLite does by default again: after a handover its
   * commits no longer take turns (see SqliteLedger), and a reserve waits for each.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#db.isOpen) this.#db.exec('PRAGMA wal_autocheckpoint = 1000');
    if (!this.#worker || this.#failed || this.#exited) return;
    Atomics.store(this.#state, STOP, 1);
    Atomics.notify(this.#state, STOP);
    Atomics.wait(this.#state, CLOSED, 0, BUSY_TIMEOUT_MS);
  }
}
