import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRateWindows } from '../../app/src/ratelimit/sqlite.ts';
import { openRelaySqliteStore } from '../../app/src/store/relay-join.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { describeStoreContract } from './store-contract.ts';
import type { ContractClock } from './store-contract.ts';

function tempDb() {
  const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
  return {
    path: join(dir, 'relay.db'),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

// Each open() is one process on the file, as a cluster worker opens it (rate windows shared).
describeStoreContract('SQLite', async (clock) => {
  const { path, cleanup } = tempDb();
  return {
    open: async () =>
      new SqliteStore({ path, now: clock.now, rates: new SqliteRateWindows({ path }) }),
    cleanup,
  };
});

// Each open() is one single relay on the file, as the server opens it: the first keeps its
// quota holds in memory; a second one makes it write them out as rows (relay-lock.ts), so the
// tests of two processes see the handover happen in the middle of them.
describeStoreContract('SQLite, holds in memory', async (clock: ContractClock) => {
  const { path, cleanup } = tempDb();
  return {
    open: async () =>
      openRelaySqliteStore(
        { path, now: clock.now, rates: new SqliteRateWindows({ path }) },
        'single',
      ),
    cleanup,
  };
});
