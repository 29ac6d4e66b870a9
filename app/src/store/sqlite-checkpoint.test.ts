import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './sqlite.ts';
import { usageRow } from '../../../test/fixtures/usage-row.ts';

/**
 * Rows at one per commit, ~10 WAL pages (40 KiB) each: ~234 MiB if the WAL never starts over.
 * Started over every one or two worker rounds (CHECKPOINT_MS), it peaks at what a tight loop
 * commits in that time: 3 and 14 MB (group commit, a read after each row) on a 2-vCPU VM, more
 * on a faster machine, so the bound is throughput-bound, not exact.
 */
const ROWS = 6000;

/**
 * The tests' rounds: shorter than the relay's (CHECKPOINT_EVERY_MS), between two of which a loop
 * this tight would commit most of ROWS on a fast machine.
 */
const CHECKPOINT_MS = 100;

/**
 * The page numbers of the frames a WAL file holds now: from the first on, those whose salts are
 * its header's (the frames of an older round, which a WAL started over keeps, do not count).
 */
function walPages(wal: Buffer): number[] {
  const pageSize = wal.readUInt32BE(8);
  const pages: number[] = [];
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (!wal.subarray(at + 8, at + 16).equals(wal.subarray(16, 24))) break;
    pages.push(wal.readUInt32BE(at));
  }
  return pages;
}

describe('WAL checkpoints in a worker thread (checkpointInBackground)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const file = () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-checkpoint-'));
    dirs.push(dir);
    return join(dir, 'relay.db');
  };
  // A row per commit, as fast as the group commit's window lets them come.
  const open = (path: string) =>
    new SqliteStore({
      path,
      holdsInMemory: true,
      checkpointInBackground: true,
      commitWindowMs: 1,
      checkpointEveryMs: CHECKPOINT_MS,
    });

  // A usage read commits the queue at once (SqliteLedger.committed), in its turn with the
  // checkpoint like the group commit (holds-in-memory.test.ts holds the turn to show it): rows
  // are all kept and the WAL stays bounded either way.
  it.each([
    ['each row committed by the group commit', false],
    ['a usage read after each row', true],
  ])(
    'keeps the WAL bounded under a write loop (%s), and leaves none behind at close, rows kept',
    async (_, read) => {
      const path = file();
      const store = open(path);
      const keyId = store.upsertKey({
        name: 'k',
        key: 'sk-checkpoint-0123456789',
        quotaUsd: 1e9,
      }).id;
      let largest = 0;
      for (let i = 0; i < ROWS; i++) {
        const settled = store.ledger.settle(null, usageRow({ keyId, keyName: 'k', costMicros: 1 }));
        if (read) await store.usage.totalMicros(keyId, 0, Date.now() + 1000);
        await settled;
        if (i % 100 === 0) largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      expect(largest).toBeLessThan(112 * 2 ** 20);
      await store.close();
      // The worker's connection was closed first, so the relay's close was the file's last.
      expect(existsSync(`${path}-wal`)).toBe(false);
      const again = new SqliteStore({ path });
      expect(again.listUsage({ limit: ROWS + 1 })).toHaveLength(ROWS);
      expect(again.getKey('k')!.usedMicros).toBe(ROWS);
      again.closeNow();
    },
  );

  it('starts a WAL copied whole over itself, so that no commit of the relay syncs a new header', async () => {
    const path = file();
    const store = open(path);
    for (let i = 0; i < 50; i++) await store.ledger.settle(null, usageRow());
    // A round every CHECKPOINT_MS: the relay's frames copied, the worker's own write first in a
    // new WAL (asked until it is, for a busy machine; before, the relay's frames stayed until its
    // next commit started the WAL over).
    let pages: number[] = [];
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(50)) {
      pages = walPages(readFileSync(`${path}-wal`));
      if (pages.length === 1) break;
    }
    expect(pages).toEqual([1]);
    const idle = readFileSync(`${path}-wal`);
    // Idle, the worker writes nothing more, round after round.
    await sleep(3 * CHECKPOINT_MS);
    expect(readFileSync(`${path}-wal`).equals(idle)).toBe(true);
    await store.close();
    const again = new SqliteStore({ path });
    expect(again.listUsage({ limit: 100 })).toHaveLength(50);
    again.closeNow();
  });

  it('takes rounds of a positive, finite number of ms only, and says so before it opens the file', () => {
    const path = file();
    for (const checkpointEveryMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(
        () =>
          new SqliteStore({
            path,
            holdsInMemory: true,
            checkpointInBackground: true,
            checkpointEveryMs,
          }),
      ).toThrow(RangeError);
    expect(existsSync(path)).toBe(false);
  });

  it('never keeps a process alive, closed or not', () => {
    const path = file();
    const store = new URL('./sqlite.ts', import.meta.url).pathname;
    for (const close of ['store.closeNow();', '']) {
      const script = `
        import { SqliteStore } from ${JSON.stringify(store)};
        const store = new SqliteStore({ path: ${JSON.stringify(path)}, holdsInMemory: true, checkpointInBackground: true });
        await store.settleSoon(null, { requestId: 'r', keyId: null, keyName: null, endpoint: '/v1/chat/completions',
          model: 'm', upstreamModel: 'm', channel: 'c', status: 200, promptTokens: 1, completionTokens: 1,
          costMicros: 0, latencyMs: 1, ttfbMs: 1, source: 'upstream', errorCode: null });
        // Long enough for the worker to be in its loop.
        await new Promise((resolve) => setTimeout(resolve, 300));
        ${close}`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        timeout: 10_000,
        encoding: 'utf8',
      });
      expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({
        status: 0,
        signal: null,
        stderr: '',
      });
    }
    const again = new SqliteStore({ path });
    expect(again.listUsage()).toHaveLength(2);
    again.closeNow();
  });
});
