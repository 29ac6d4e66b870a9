import { join } from 'node:path';
import { SqliteRateWindows } from '../ratelimit/sqlite.ts';
import { withKeyCache } from './key-cache.ts';
import { SqliteStore } from './sqlite.ts';
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
  const store = new SqliteStore({
    path,
    releaseStaleHolds: context.releaseStaleHolds ?? false,
    ...(config.usage?.timeZone !== undefined && { timeZone: config.usage.timeZone }),
    ...(context.sharedRates && { rates: new SqliteRateWindows({ path }) }),
  });
  return withKeyCache(store);
}
