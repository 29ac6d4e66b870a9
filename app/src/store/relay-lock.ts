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
 */
export class RelayLock {
  readonly #db: DatabaseSync;
  /** The open read that keeps the SHARED lock; dropped only with the connection. */
  #reading: Iterator<unknown> | undefined;
  #mode: 'sole' | 'shared' | 'none' = 'none';

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    // Never wait: a lock another process holds is an answer, not a delay.
    this.#db.exec('PRAGMA busy_timeout = 0');
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

  close(): void {
    this.#reading = undefined;
    if (this.#db.isOpen) this.#db.close();
    this.#mode = 'none';
  }
}
