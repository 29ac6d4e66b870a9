/**
 * What the group commit blocks the event loop for, WAL checkpoints on the relay's connection
 * (SQLite's automatic ones) against a worker thread (checkpointInBackground): ROWS usage rows
 * settled through the group commit on a fresh file, `perCommit` at a time, the next batch once
 * the last one is committed. Every store callback (the group commit's setImmediate, its retry
 * timer) is timed as it runs: that time is the event loop's, which a request waits behind.
 * Also the time to the commit (what a settlement waits for, not on the loop: with holds in
 * memory it includes the group commit's window, COMMIT_WINDOW_MS in sqlite-ledger.ts), the
 * process's CPU per row (the worker thread's included) and the WAL size when done.
 *
 * Then the WAL's pages per row: a read kept open on the file meanwhile stops every checkpoint
 * from restarting the WAL, so it grows by exactly what the commits append.
 *
 * Env: BENCH_ROWS (default 8000), BENCH_ROUNDS (default 3). Run: npm run bench:commits
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStore } from '../app/src/store/sqlite.ts';
import { usageRow } from '../test/fixtures/usage-row.ts';
import { pct } from './stats.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 8000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STALL_MS = 2;

/** Times each callback the store schedules, in `into`, while `fn` runs. */
async function timingCallbacks<T>(into: number[], fn: () => Promise<T>): Promise<T> {
  const { setImmediate: immediate, setTimeout: timeout } = globalThis;
  const timed =
    (cb: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      const t = performance.now();
      try {
        cb(...args);
      } finally {
        into.push(performance.now() - t);
      }
    };
  globalThis.setImmediate = ((cb: () => void, ...a: unknown[]) =>
    immediate(timed(cb), ...a)) as typeof setImmediate;
  globalThis.setTimeout = ((cb: () => void, ms?: number, ...a: unknown[]) =>
    timeout(timed(cb), ms, ...a)) as typeof setTimeout;
  try {
    return await fn();
  } finally {
    Object.assign(globalThis, { setImmediate: immediate, setTimeout: timeout });
  }
}

function fresh(background: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'commit-stalls-'));
  const path = join(dir, 'relay.db');
  const store = new SqliteStore({ path, holdsInMemory: true, checkpointInBackground: background });
  const keyId = store.upsertKey({
    name: 'k',
    key: 'sk-commit-stalls-0123456789',
    quotaUsd: 1e9,
  }).id;
  const settle = () =>
    store.settleSoon(null, usageRow({ keyId, keyName: 'k', costMicros: 1, promptTokens: 20 }));
  return { dir, path, store, settle };
}

async function round(background: boolean, perCommit: number) {
  const { dir, path, store, settle } = fresh(background);
  const loop: number[] = [];
  const waits: number[] = [];
  const cpu = process.cpuUsage();
  await timingCallbacks(loop, async () => {
    for (let i = 0; i < ROWS; i += perCommit) {
      const t = performance.now();
      await Promise.all(Array.from({ length: perCommit }, settle));
      waits.push(performance.now() - t);
    }
  });
  const { user, system } = process.cpuUsage(cpu);
  const wal = existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
  store.closeNow();
  rmSync(dir, { recursive: true, force: true });
  loop.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  const ms = (x: number) => x.toFixed(2);
  return [
    background ? 'worker' : 'relay',
    perCommit,
    ms(pct(loop, 50)),
    ms(pct(loop, 99)),
    ms(loop.at(-1)!),
    loop.filter((x) => x > STALL_MS).length,
    ms(pct(waits, 50)),
    ms(pct(waits, 99)),
    ms(waits.at(-1)!),
    ((user + system) / ROWS).toFixed(1),
    (wal / 2 ** 20).toFixed(1),
  ];
}

console.log(
  `| checkpoints | rows/commit | loop p50 ms | loop p99 ms | loop max ms | loop > ${STALL_MS} ms |` +
    ' commit wait p50 ms | p99 ms | max ms | CPU µs/row | WAL MiB at end |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const perCommit of [1, 10]) {
  // Alternating, so that a busy moment of the machine hits both.
  for (let r = 0; r < ROUNDS; r++) {
    for (const background of [false, true]) {
      console.log(`| ${(await round(background, perCommit)).join(' | ')} |`);
    }
  }
}

console.log('\n| rows/commit | WAL pages per row | KiB per row |');
console.log('|---:|---:|---:|');
for (const perCommit of [1, 10]) {
  const { dir, path, store, settle } = fresh(false);
  for (let i = 0; i < 50; i++) await settle(); // past the first pages of each table and index
  const reader = new DatabaseSync(path);
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM usage').get();
  const before = statSync(`${path}-wal`).size;
  const rows = 2000;
  for (let i = 0; i < rows; i += perCommit)
    await Promise.all(Array.from({ length: perCommit }, settle));
  const bytes = statSync(`${path}-wal`).size - before;
  const { page_size: pageSize } = reader.prepare('PRAGMA page_size').get() as { page_size: number };
  const pages = bytes / (pageSize + 24) / rows;
  console.log(`| ${perCommit} | ${pages.toFixed(2)} | ${(bytes / 1024 / rows).toFixed(1)} |`);
  reader.exec('COMMIT');
  reader.close();
  store.closeNow();
  rmSync(dir, { recursive: true, force: true });
}
