/**
 * How long a request waits for its quota hold, SQLite holds as rows (through the group commit)
 * against holds in memory (the single relay's mode, SqliteLedger): `streams` request loops, each
 * doing some synchronous request work, awaiting its hold, yielding a turn (the upstream call),
 * and settling behind without waiting. The wait is what the hold adds to the time to the first
 * token. Run: node bench/hold-wait.ts (about 12 s).
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

async function measure(inMemory: boolean, streams: number) {
  const dir = mkdtempSync(join(tmpdir(), 'hold-wait-'));
  const store = new SqliteStore({ path: join(dir, 'relay.db'), holdsInMemory: inMemory });
  const keyId = store.upsertKey({ name: 'k', key: 'sk-hold-wait-0123456789', quotaUsd: 1e9 }).id;
  const waits: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      work(50);
      const t = performance.now();
      const hold = await store.ledger.reserve(keyId, 100, 60_000);
      waits.push(performance.now() - t);
      await new Promise((resolve) => setImmediate(resolve));
      work(100);
      void store.ledger.settle(hold, usageRow({ keyId, keyName: 'k', costMicros: 1 }));
    }
  };
  await Promise.all(Array.from({ length: streams }, loop));
  store.closeNow();
  rmSync(dir, { recursive: true, force: true });
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
