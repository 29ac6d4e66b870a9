import type { AdminStore } from '../admin-types.ts';
import type { Store } from '../types.ts';
import { createDynamoAdminStore } from './admin.ts';
import { openDynamo } from './client.ts';
import type { Dynamo, DynamoStoreOptions, DynamoStoreStats } from './client.ts';
import { DynamoKeyStore } from './keys.ts';
import { DynamoQuotaLedger } from './ledger.ts';
import { DynamoRateWindows } from './rates.ts';
import { DynamoUsageStore } from './usage.ts';

export type { DynamoStoreOptions };

/**
 * The store of fleet mode: every role on DynamoDB, so that several relay hosts share keys,
 * quota, usage and rate windows exactly. Nothing is kept in memory between calls (the key
 * cache in front of `keys` is the caller's), so close() has nothing to flush.
 */
export class DynamoStore implements Store {
  readonly keys: DynamoKeyStore;
  readonly ledger: DynamoQuotaLedger;
  readonly usage: DynamoUsageStore;
  readonly rates: DynamoRateWindows;
  readonly admin: AdminStore;
  readonly #dynamo: Dynamo;

  constructor(dynamo: Dynamo, options: DynamoStoreOptions) {
    this.#dynamo = dynamo;
    this.keys = new DynamoKeyStore(dynamo);
    this.usage = new DynamoUsageStore(dynamo, options);
    this.ledger = new DynamoQuotaLedger(dynamo, this.keys, this.usage);
    this.rates = new DynamoRateWindows(dynamo);
    this.admin = createDynamoAdminStore(dynamo, this.keys, this.usage);
  }

  /** Ledger conflicts, expired holds given back and failed counter writes so far. */
  get stats(): Readonly<DynamoStoreStats> {
    return this.#dynamo.stats;
  }

  async close(): Promise<void> {
    this.#dynamo.destroy();
  }
}

/** Loads the AWS SDK (only now: SQLite users never do) and opens the store. */
export async function openDynamoStore(options: DynamoStoreOptions): Promise<DynamoStore> {
  return new DynamoStore(await openDynamo(options), options);
}
