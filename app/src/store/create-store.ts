import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteRateWindows } from '../ratelimit/sqlite.ts';
import { withKeyCache } from './key-cache.ts';
import { RelayLock } from './relay-lock.ts';
import { SqliteStore } from './sqlite.ts';
import type { SqliteStoreOptions } from './sqlite.ts';
import type { DynamoStoreEvent } from './dynamodb/client.ts';
import type { StoreConfig } from './store-config.ts';
import { StoreError } from './types.ts';
import type { Store } from './types.ts';

export interface StoreContext {
  /** RELAY_DATA_DIR: the SQLite store is `<dataDir>/relay.db`. */
  readonly dataDir: string;
  /**
   * Drop the holds a previous run left (SQLite: only the process that owns the file, i.e. the
   * single relay or the cluster primary; holds expire by their lease anyway).
   */
  readonly releaseStaleHolds?: boolean;
  /** A cluster worker: rate windows shared with the other workers instead of in memory. */
  readonly sharedRates?: boolean;
  /**
   * A relay process serving requests (SQLite: it takes the relay lock, see openRelaySqliteStore):
   * `single` may keep quota holds in memory when it is the only one on the file; `worker` (a
   * cluster worker) never does. Absent for the keys CLI and the cluster primary's preparation,
   * which hold no quota.
   */
  readonly relay?: 'single' | 'worker';
  /** DynamoDB: told of ledger conflicts, expired holds and failed counters (dynamodb/metrics.ts). */
  readonly onStoreEvent?: (event: DynamoStoreEvent) => void;
}

export const sqlitePath = (dataDir: string): string => join(dataDir, 'relay.db');

/** The store `config.store` names, with its key lookups cached (key-cache.ts). */
export async function createStore(
  config: {
    readonly store: StoreConfig;
    readonly usage?: { readonly timeZone?: string; readonly retainDays?: number };
  },
  context: StoreContext,
): Promise<Store> {
  if (config.store.type === 'dynamodb') {
    // Loaded only now: a relay on SQLite never imports the AWS SDK's DynamoDB client.
    const { openDynamoStore } = await import('./dynamodb/store.ts');
    const { dynamoStoreOptions } = await import('./dynamodb/config.ts');
    const options = dynamoStoreOptions(config.store, config.usage);
    return withKeyCache(
      await openDynamoStore({
        ...options,
        ...(context.onStoreEvent && { onEvent: context.onStoreEvent }),
      }),
    );
  }
  const path = sqlitePath(context.dataDir);
  const options: SqliteStoreOptions = {
    path,
    releaseStaleHolds: context.releaseStaleHolds ?? false,
    ...(config.usage?.timeZone !== undefined && { timeZone: config.usage.timeZone }),
    ...(context.sharedRates && { rates: new SqliteRateWindows({ path }) }),
  };
  const store = context.relay
    ? await openRelaySqliteStore(options, context.relay)
    : options.releaseStaleHolds
      ? preparedSqliteStore(options)
      : new SqliteStore(options);
  return withKeyCache(store);
}

/** The relay lock beside the database, whose folder may not exist yet on a first start. */
function relayLockFor(path: string): RelayLock {
  mkdirSync(dirname(path), { recursive: true });
  return new RelayLock(`${path}.lock`);
}

/**
 * The cluster primary's store before it forks: stale holds are dropped only while it holds the
 * relay lock alone. Beside live relays (the old workers of a rolling restart, a single relay
 * that handed its holds over) the rows are theirs, and dropping them would let new holds take
 * money already held.
 */
function preparedSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const lock = relayLockFor(options.path);
  try {
    return new SqliteStore({ ...options, releaseStaleHolds: lock.trySole() });
  } finally {
    lock.close();
  }
}

/**
 * WAL checkpoints in a worker thread for the only relay on a SQLite file (sqlite-checkpoint.ts;
 * measured with bench/commit-stalls.ts).
 */
const CHECKPOINT_IN_BACKGROUND = true;

/** How long a relay starting beside one that keeps its holds in memory waits for them as rows. */
const HANDOVER_WAIT_MS = 10_000;

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
 * alone under the lock, preparedSqliteStore): rows may be another live relay's.
 */
export async function openRelaySqliteStore(
  options: SqliteStoreOptions,
  relay: 'single' | 'worker',
  handoverWaitMs = HANDOVER_WAIT_MS,
): Promise<SqliteStore> {
  const lock = relayLockFor(options.path);
  if (relay === 'single' && lock.trySole())
    return new SqliteStore({
      ...options,
      holdsInMemory: true,
      lock,
      checkpointInBackground: CHECKPOINT_IN_BACKGROUND,
    });
  const store = new SqliteStore({ ...options, releaseStaleHolds: false, lock });
  if (lock.tryShared()) return store;
  let renewed = 0;
  for (const until = Date.now() + handoverWaitMs; !lock.tryShared(); await sleep(20)) {
    const now = Date.now();
    if (now - renewed >= HANDOVER_RENEW_MS) {
      store.requestHandover(now + HANDOVER_LAPSE_MS);
      renewed = now;
    }
    if (now < until) continue;
    store.requestHandover(0);
    store.closeNow();
    throw new StoreError(
      `another relay process on ${options.path} keeps its quota holds in memory and did not hand ` +
        `them over within ${handoverWaitMs} ms; stop it, or start this one when it answers`,
    );
  }
  store.requestHandover(0);
  return store;
}
