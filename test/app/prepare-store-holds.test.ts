/**
 * The cluster primary's start (prepareStore) drops the quota holds a previous run left. On a
 * file where relays are live (a single relay that handed its holds over to workers, or the old
 * workers of a rolling restart), those rows are theirs: dropping them lets new holds take money
 * that is already held, and the key spends past its quota.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../app/src/config.ts';
import { prepareStore } from '../../app/src/server.ts';
import { openRelaySqliteStore } from '../../app/src/store/relay-join.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';

const LEASE = 60_000;

describe('the cluster primary preparing the store beside live relays', () => {
  const dirs: string[] = [];
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0).reverse()) close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the holds of relays still on the file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prepare-store-holds-'));
    dirs.push(dataDir);
    const path = join(dataDir, 'relay.db');
    const cli = new SqliteStore({ path });
    closers.push(() => cli.closeNow());
    const keyId = cli.createKey({ name: 'k', quotaUsd: 0.001 }).record.id;
    // A relay serving, then a cluster worker beside it: the holds are rows from then on.
    const single = await openRelaySqliteStore({ path, releaseStaleHolds: true }, 'single');
    closers.push(() => single.closeNow());
    const worker = await openRelaySqliteStore({ path }, 'worker');
    closers.push(() => worker.closeNow());
    expect(await single.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();

    await prepareStore(parseRelayConfig({}, {}), dataDir);

    expect(cli.getKey('k')!.reservedMicros).toBe(700);
    expect(await worker.ledger.reserve(keyId, 700, LEASE)).toBeNull();
  });

  it('still drops what a previous run left when no relay is on the file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prepare-store-holds-'));
    dirs.push(dataDir);
    const path = join(dataDir, 'relay.db');
    const before = await openRelaySqliteStore({ path }, 'worker');
    const keyId = before.createKey({ name: 'k', quotaUsd: 0.001 }).record.id;
    expect(await before.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();
    // Its process gone: the kernel drops its lock, its hold row stays.
    before.closeNow();

    await prepareStore(parseRelayConfig({}, {}), dataDir);

    const cli = new SqliteStore({ path });
    closers.push(() => cli.closeNow());
    expect(cli.getKey('k')!.reservedMicros).toBe(0);
  });

  it('keeps the holds of workers whose lock file was just deleted (a new lock file beside the database)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prepare-store-holds-'));
    dirs.push(dataDir);
    const path = join(dataDir, 'relay.db');
    const worker = await openRelaySqliteStore({ path }, 'worker');
    closers.push(() => worker.closeNow());
    const keyId = worker.createKey({ name: 'k', quotaUsd: 0.001 }).record.id;
    expect(await worker.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();
    // Deleted, and a new cluster started before the worker noticed (its check runs every 50 ms).
    rmSync(`${path}.lock`);

    await prepareStore(parseRelayConfig({}, {}), dataDir);

    const cli = new SqliteStore({ path });
    closers.push(() => cli.closeNow());
    expect(cli.getKey('k')!.reservedMicros).toBe(700);
  });
});
