import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import { SqliteRateWindows } from '../ratelimit/sqlite.ts';
import { withKeyCache } from './key-cache.ts';
import { isNewLock, openRelaySqliteStore, relayLockFor } from './relay-join.ts';
import { SqliteStore } from './sqlite.ts';
import type { SqliteStoreOptions } from './sqlite.ts';
import type { DynamoStoreEvent } from './dynamodb/client.ts';
import type { StoreConfig } from './store-config.ts';
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
  /** SQLite: where failures no request sees are logged (a handover, the relay lock file deleted). */
  readonly logger?: Pick<Logger, 'error'>;
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
    ...(context.logger && { logger: context.logger }),
  };
  const store = context.relay
    ? await openRelaySqliteStore(options, context.relay)
    : options.releaseStaleHolds
      ? preparedSqliteStore(options)
      : new SqliteStore(options);
  return withKeyCache(store);
}

/**
 * The cluster primary's store before it forks: stale holds are dropped only while it holds the
 * relay lock alone. Beside live relays (the old workers of a rolling restart, a single relay
 * that handed its holds over) the rows are theirs, and dropping them would let new holds take
 * money already held.
 */
function preparedSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const newLock = isNewLock(options.path);
  const lock = relayLockFor(options.path);
  try {
    return new SqliteStore({ ...options, releaseStaleHolds: lock.trySole() && !newLock });
  } finally {
    lock.close();
  }
}
