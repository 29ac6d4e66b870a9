/**
 * How long a request waits for its quota hold, SQLite holds as rows (through the group commit)
 * against holds in memory (the single relay's mode, SqliteLedger): `streams` request loops, each
 * doing some synchronous request work, awaiting its hold, yielding a turn (the upstream call),
 * and settling behind without waiting. The wait is what the hold adds to the time to the first
 * token. Then the CPU a hold and its settlement cost (10 loops, no request work, process CPU
 * time per request). Run: node bench/hold-wait.ts (about 20 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../app/src/store/sqlite.ts';
import { usageRow } from '../test/fixtures/usage-row.ts';

const SECONDS = 1.5;

/** Busy for `us` µs: the synchronous part of a request (auth, parsing, admission). */
const work = (us: number) => {
  for (const end = performance.now() + us / 1000; performance.now() < end;);
};

/** `streams` request loops on a fresh file for SECONDS (or `requests` in all), `workUs` each. */
async function requests(inMemory: boolean, streams: number, workUs: number, requests = Infinity) {
  const dir = mkdtempSync(join(tmpdir(), 'hold-wait-'));
  const store = new SqliteStore({ path: join(dir, 'relay.db'), holdsInMemory: inMemory });
  const keyId = store.upsertKey({ name: 'k', key: 'sk-hold-wait-0123456789', quotaUsd: 1e9 }).id;
  const waits: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const cpu = process.cpuUsage();
  const loop = async () => {
    while (performance.now() < end && waits.length < requests) {
      work(workUs / 3);
      const t = performance.now();
      const hold = await store.ledger.reserve(keyId, 100, 60_000);
      waits.push(performance.now() - t);
      await new Promise((resolve) => setImmediate(resolve));
      work((workUs * 2) / 3);
      void store.ledger.settle(hold, usageRow({ keyId, keyName: 'k', costMicros: 1 }));
    }
  };
  await Promise.all(Array.from({ length: streams }, loop));
  store.closeNow();
  const { user, system } = process.cpuUsage(cpu);
  rmSync(dir, { recursive: true, force: true });
  return { waits, cpuUs: (user + system) / waits.length };
}

async function measure(inMemory: boolean, streams: number) {
  const { waits } = await requests(inMemory, streams, 150);
  waits.sort((a, b) => a - b);
  const us = (q: number) => Math.round(waits[Math.floor(waits.length * q)]! * 1000);
  return { p50: us(0.5), p99: us(0.99), holds: waits.length };
}

console.log('| streams | holds | wait p50 µs | wait p99 µs | holds measured |');
console.log('|--------:|-------|------------:|------------:|---------------:|');
for (const streams of [1, 10]) {
  // Alternating, twice each, so that a busy moment of the machine hits both.
  for (const inMemory of [false, true, false, true]) {
    const r = await measure(inMemory, streams);
    const name = inMemory ? 'in memory' : 'rows';
    console.log(`| ${streams} | ${name} | ${r.p50} | ${r.p99} | ${r.holds} |`);
  }
}

console.log('\n| holds | CPU µs per hold + settlement (10 loops, 20,000 requests) |');
console.log('|-------|----------------------------------------------------------:|');
for (const inMemory of [false, true, false, true]) {
  const { cpuUs } = await requests(inMemory, 10, 0, 20_000);
  console.log(`| ${inMemory ? 'in memory' : 'rows'} | ${cpuUs.toFixed(1)} |`);
}
