import { afterAll, beforeAll } from 'vitest';
import { startDynalite } from '../fixtures/dynalite.ts';
import type { Dynalite } from '../fixtures/dynalite.ts';
import { describeStoreContract } from './store-contract.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(() => db.close());

// Each open() is one process (a fleet host) with its own clients on the same tables.
describeStoreContract('DynamoDB', async (clock) => {
  const tablePrefix = await db.tables();
  return { open: () => db.store({ tablePrefix, now: clock.now }) };
});
