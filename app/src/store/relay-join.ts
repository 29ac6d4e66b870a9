import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import { RelayLock } from './relay-lock.ts';
import { SqliteStore } from './sqlite.ts';
import type { SqliteStoreOptions } from './sqlite.ts';
import { StoreError } from './types.ts';

// How a relay process takes its place on a SQLite file under the relay lock (relay-lock.ts):
// alone with holds in memory, or beside others with holds as rows, and back to rows when its
// lock file is deleted under it. create-store.ts decides which store a process gets.

/**
 * No lock file beside an existing database: the last one may have been deleted under relays that
 * still run, so the hold rows may be theirs, and one may keep holds in memory (see
 * holdBackForRelayOnDeletedLock). Also the first start after an upgrade from a release without it.
 */
export function isNewLock(path: string): boolean {
  return !existsSync(`${path}.lock`) && existsSync(path);
}

/** The relay lock beside the database, whose folder may not exist yet on a first start. */
export function relayLockFor(path: string): RelayLock {
  mkdirSync(dirname(path), { recursive: true });
  return new RelayLock(`${path}.lock`);
}

/**
 * WAL checkpoints in a worker thread for the only relay on a SQLite file (sqlite-checkpoint.ts;
 * measured with bench/commit-stalls.ts).
 */
const CHECKPOINT_IN_BACKGROUND = true;

/** How long a relay starting beside one that keeps its holds in memory waits for them as rows. */
const HANDOVER_WAIT_MS = 10_000;

/** How often a relay looks whether its lock file is still the one the path names (a stat). */
const LOCK_CHECK_MS = 50;

/**
 * How long a relay sole on a lock file it created beside an existing database holds new holds
 * back: a relay whose lock file was just deleted notices it, writes its holds as rows and asks
 * for a handover within about two checks.
 */
const NEW_LOCK_WAIT_MS = 4 * LOCK_CHECK_MS;

/**
 * The request for a handover is renewed this often while the asker waits, and lapses this long
 * after its last renewal: an asker that dies (SIGKILL, a crash) stops asking within 2 s.
 */
export const HANDOVER_RENEW_MS = 500;
export const HANDOVER_LAPSE_MS = 2000;

/**
 * A relay process's SQLite store, under the relay lock (relay-lock.ts): with quota holds in
 * memory when it is the only relay on the file, else as rows shared with the others. A relay
 * keeping holds in memory is asked to write them out first, and this one waits for it: two
 * relays on one file (a rolling restart, a relay beside a cluster) then both hold through rows,
 * so neither can overspend. Stale holds are dropped only by the sole relay (or a cluster primary
 * alone under the lock, preparedSqliteStore): rows may be another live relay's. A lock file
 * deleted under running relays is recovered from (holdBackForRelayOnDeletedLock, rejoinIfMoved).
 */
export async function openRelaySqliteStore(
  options: SqliteStoreOptions,
  relay: 'single' | 'worker',
  handoverWaitMs = HANDOVER_WAIT_MS,
): Promise<SqliteStore> {
  const newLock = isNewLock(options.path);
  const lock = relayLockFor(options.path);
  if (relay === 'single' && lock.trySole()) {
    const releaseStaleHolds = (options.releaseStaleHolds ?? false) && !newLock;
    const sole = new SqliteStore({
      ...options,
      releaseStaleHolds,
      holdsInMemory: true,
      lock,
      checkpointInBackground: CHECKPOINT_IN_BACKGROUND,
    });
    if (newLock) holdBackForRelayOnDeletedLock(sole);
    rejoinIfMoved(sole, lock, handoverWaitMs, options.logger);
    return sole;
  }
  const store = new SqliteStore({ ...options, releaseStaleHolds: false, lock });
  if (!(await joinBeside(store, lock, handoverWaitMs))) {
    store.closeNow();
    throw new StoreError(
      `another relay process on ${options.path} keeps its quota holds in memory and did not hand ` +
        `them over within ${handoverWaitMs} ms (its log says why if it failed); stop it, or ` +
        `start this one when it answers`,
    );
  }
  rejoinIfMoved(store, lock, handoverWaitMs, options.logger);
  return store;
}

/** The relay lock shared, after asking a relay that keeps holds in memory to hand them over. */
async function joinBeside(store: SqliteStore, lock: RelayLock, waitMs: number): Promise<boolean> {
  const until = Date.now() + waitMs;
  let renewed = 0;
  try {
    while (!lock.tryShared()) {
      const now = Date.now();
      if (now >= until) return false;
      if (now - renewed >= HANDOVER_RENEW_MS) {
        store.requestHandover(now + HANDOVER_LAPSE_MS);
        renewed = now;
      }
      await sleep(20);
    }
    return true;
  } finally {
    store.requestHandover(0);
  }
}

/**
 * A lock file new beside an existing database: its last one may have been deleted under a relay
 * that still runs and keeps holds in memory, invisible here until it notices (rejoinIfMoved) and
 * writes them as rows. New holds wait for its handover ask (answered by the ledger's poll) or
 * NEW_LOCK_WAIT_MS, whichever comes first. Also after an upgrade from a release without the lock.
 */
function holdBackForRelayOnDeletedLock(store: SqliteStore): void {
  const resume = store.pauseHolds();
  const since = Date.now();
  const poll = setInterval(() => {
    if (store.holdsInMemory && Date.now() - since < NEW_LOCK_WAIT_MS) return;
    clearInterval(poll);
    resume();
  }, 10);
}

/**
 * The lock file deleted or replaced under a running relay (an operator cleaning "stale" lock
 * files): a relay starting now locks a new file and believes itself alone, and two relays
 * keeping holds in memory overspend together. This one writes its holds out as rows and joins
 * the new file as a relay starting beside another does, so that both end holding through rows.
 * New holds wait meanwhile: until the other relay hands over, its holds in memory are in no row.
 * (The other relay's holds in memory do count this one's rows: it reads reserved_micros.)
 */
function rejoinIfMoved(
  store: SqliteStore,
  lock: RelayLock,
  waitMs: number,
  logger: Pick<Logger, 'error'> | undefined,
): void {
  // Told once per deletion, not at every retry of a rejoin that waits or fails.
  let told = false;
  lock.watch(LOCK_CHECK_MS, async () => {
    if (!told && lock.moved()) {
      told = true;
      logger?.error(
        { lockFile: lock.path },
        `the relay lock file ${lock.path} was deleted or replaced while this relay ran, so ` +
          'another relay may take a new one and believe itself alone on the database; this relay ' +
          'now keeps its quota holds as rows and joins the new lock file. Never delete the lock ' +
          'file while a relay runs: it is never stale (the OS drops the locks of a dead process)',
      );
    }
    const resume = store.pauseHolds();
    try {
      store.handOver();
      if (lock.moved()) lock.reopen();
      if (await joinBeside(store, lock, waitMs)) told = false;
      else {
        logger?.error(
          { lockFile: lock.path },
          `another relay on ${lock.path} keeps its quota holds in memory and did not hand them ` +
            `over within ${waitMs} ms; asking again`,
        );
      }
    } catch (err) {
      if (!lock.closed) logger?.error({ err }, 'cannot rejoin the relay lock; trying again');
    } finally {
      resume();
    }
  });
}
