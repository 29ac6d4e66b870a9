import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRateWindows } from '../../app/src/ratelimit/sqlite.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { describeStoreContract } from './store-contract.ts';

// Each open() is one process on the file, as a cluster worker opens it (rate windows shared).
describeStoreContract('SQLite', async (clock) => {
  const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
  const path = join(dir, 'relay.db');
  return {
    open: async () =>
      new SqliteStore({ path, now: clock.now, rates: new SqliteRateWindows({ path }) }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
