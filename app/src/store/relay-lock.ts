import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';

/**
 * Which relay processes reserve quota on a SQLite file, told by SQLite's own file locks on a
 * small file beside it (`relay.db.lock`; the database itself is in WAL mode, whose locks mean
 * something else). The OS drops a process's locks when it dies, SIGKILL included, so nothing
 * stale is ever left to clean up.
 *
 * - `sole`: an EXCLUSIVE lock (an open `BEGIN EXCLUSIVE`). No other relay is on the file, so
 *   this one may keep its quota holds in memory (MemoryHolds).
 * - `shared`: a SHARED lock (a read statement left open). Cluster workers, and relays started
 *   beside another one (a rolling restart), keep their holds as rows, which all of them see.
 *
 * A sole owner blocks every other claim. A newcomer asks it (SqliteLedger.requestHandover) to
 * write its holds out as rows and step down to `shared` (downgrade(): the lock never passes
 * through unlocked, so a third process cannot slip in as sole meanwhile), and waits for that.
 * The keys CLI takes no lock: it never holds quota, and its top-ups and quota edits are read by
 * every reserve.
 *
 * The one way to break it is to delete (or replace) the lock file while relays run: a relay
 * starting then locks a new file and believes itself alone. moved() tells a relay that its file
 * is no longer the one the path names, and reopen() lets it join the new one (relay-join.ts).
 */
export class RelayLock {
  readonly #path: string;
  #db!: DatabaseSync;
  /**
   * Our own descriptor on the file, to know which file SQLite locked (node:sqlite does not
   * show its own). Closed only after the connection: closing any descriptor of a file drops
   * every POSIX lock this process holds on it.
   */
  #fd = -1;
  #file!: { dev: bigint; ino: bigint };
  /** The open read that keeps the SHARED lock; dropped only with the connection. */
  #reading: Iterator<unknown> | undefined;
  #mode: 'sole' | 'shared' | 'none' = 'none';
  #watch: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(path: string) {
    this.#path = path;
    this.#open();
  }

  #open(): void {
    // Opened (and created) before SQLite opens the path, and compared after: the file SQLite
    // opened in between is this one unless the path changed twice in those microseconds.
    this.#fd = openSync(this.#path, 'a');
    const { dev, ino } = fstatSync(this.#fd, { bigint: true });
    this.#file = { dev, ino };
    try {
      this.#db = new DatabaseSync(this.#path);
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
    // Never wait: a lock another process holds is an answer, not a delay.
    this.#db.exec('PRAGMA busy_timeout = 0');
  }

  get path(): string {
    return this.#path;
  }

  /** True when the path no longer names the file this lock is on (deleted or replaced). */
  moved(): boolean {
    const now = statSync(this.#path, { bigint: true, throwIfNoEntry: false });
    return !now || now.dev !== this.#file.dev || now.ino !== this.#file.ino;
  }

  /**
   * Calls `onMoved` (at most one call running at a time) every `everyMs` while moved() or
   * unlocked, until close(). A stat per tick on an unref'd timer: nothing per request.
   */
  watch(everyMs: number, onMoved: () => Promise<void>): void {
    let busy = false;
    this.#watch = setInterval(() => {
      // Unlocked (a rejoin that timed out) counts as moved: it is tried again.
      if (busy || (this.#mode !== 'none' && !this.moved())) return;
      busy = true;
      void onMoved().finally(() => (busy = false));
    }, everyMs);
    this.#watch.unref();
  }

  /** After moved(): lets go of the old file and opens the one the path names now, unlocked. */
  reopen(): void {
    this.#release();
    this.#open();
  }

  get mode(): 'sole' | 'shared' | 'none' {
    return this.#mode;
  }

  /** True when this process is now the only relay on the file. */
  trySole(): boolean {
    try {
      this.#db.exec('BEGIN EXCLUSIVE');
    } catch {
      return false;
    }
    this.#mode = 'sole';
    return true;
  }

  /** True when no relay keeps holds in memory on the file (and none can start to). */
  tryShared(): boolean {
    if (this.#mode !== 'none') return true;
    try {
      this.#reading = this.#read().iterate();
      this.#reading.next();
    } catch {
      this.#reading = undefined;
      return false;
    }
    this.#mode = 'shared';
    return true;
  }

  /**
   * From sole to shared without letting go in between: a read left open across the COMMIT
   * keeps the SHARED lock the exclusive one came down to.
   */
  downgrade(): void {
    if (this.#mode !== 'sole') return;
    this.#reading = this.#read().iterate();
    this.#reading.next();
    this.#db.exec('COMMIT');
    this.#mode = 'shared';
  }

  #read(): StatementSync {
    // A row after the file's (empty) schema, so that one step returns it and leaves the
    // statement, and with it the lock, open.
    return this.#db.prepare('SELECT 1 FROM sqlite_master UNION ALL SELECT 1');
  }

  /** True once close() ran (the store closed): a rejoin under way stops. */
  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watch);
    this.#release();
  }

  #release(): void {
    this.#reading = undefined;
    if (this.#db.isOpen) this.#db.close();
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    this.#mode = 'none';
  }
}
