import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './sqlite.ts';

/**
 * Another connection holding the file's lock from a thread of its own (SQLite's locks conflict
 * between threads as between processes), as a relay does while it migrates the schema at start:
 * it lets go after `ms`, while this thread is blocked opening the store.
 */
function holdLock(path: string, ms: number): Promise<Worker> {
  const worker = new Worker(
    `const { DatabaseSync } = require('node:sqlite');
     const { workerData, parentPort } = require('node:worker_threads');
     const db = new DatabaseSync(workerData.path);
     db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1);');
     parentPort.postMessage('locked');
     setTimeout(() => { db.exec('COMMIT'); db.close(); }, workerData.ms);`,
    { eval: true, workerData: { path, ms } },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

describe('opening the SQLite store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('waits for a lock another process holds on a new file instead of failing on the switch to WAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-open-'));
    dirs.push(dir);
    const path = join(dir, 'relay.db');
    // A file still in rollback-journal mode, locked: the switch to WAL must wait for it.
    new DatabaseSync(path).close();
    const worker = await holdLock(path, 300);
    const store = new SqliteStore({ path });
    expect(store.createKey({ name: 'k' }).record.name).toBe('k');
    store.closeNow();
    await worker.terminate();
  });
});
