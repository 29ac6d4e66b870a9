import { join } from 'node:path';
import { ConfigError } from '../config.ts';
import { SqliteRateWindows } from '../ratelimit/sqlite.ts';
import { withKeyCache } from './key-cache.ts';
import { SqliteStore } from './sqlite.ts';
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
}

export const sqlitePath = (dataDir: string): string => join(dataDir, 'relay.db');

/** The store `config.store` names, with its key lookups cached (key-cache.ts). */
export async function createStore(
  config: { readonly store: StoreConfig; readonly usage?: { readonly timeZone?: string } },
  context: StoreContext,
): Promise<Store> {
  if (config.store.type === 'dynamodb') {
    // dynamo16: open the DynamoDB store here.
    throw new ConfigError('store.type "dynamodb" is not built into this relay yet');
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
