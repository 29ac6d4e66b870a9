/**
 * What the store adds to each request, SQLite against DynamoDB (dynalite on 127.0.0.1): the
 * store calls a proxied request makes after its key is found (the key cache answers that
 * without the store): rate hit (RPM + TPM), quota hold, settlement with its usage row and
 * rollup, tokens into the TPM window.
 *
 * Caveat: dynalite is not DynamoDB. It runs in this process's machine on LevelDB in memory, with
 * none of DynamoDB's network hops, replication or per-partition limits; its numbers tell the
 * relay's own cost per call (SDK marshalling, signing, HTTP) and the number of round trips, not
 * AWS latency. docs/fleet.md estimates that from the round trips.
 *
 * dynalite runs in a process of its own; "relay CPU µs/req" is this process's CPU time per
 * request (the store client: SDK marshalling, signing, HTTP), the part that stays on AWS.
 *
 * Env: BENCH_STORE_REQUESTS (default 300), BENCH_STORE_CONCURRENCY (default 16).
 * Run: npm run bench:store
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../app/src/store/sqlite.ts';
import type { Store, UsageRow } from '../app/src/store/types.ts';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort } from '../test/fixtures/relay-process.ts';
import { TEST_CREDENTIALS, TEST_REGION } from '../test/fixtures/dynalite.ts';
import { createTables } from '../app/src/store/dynamodb/create-tables.ts';
import { openDynamoStore } from '../app/src/store/dynamodb/store.ts';
import { usageRow } from '../test/fixtures/usage-row.ts';

const REQUESTS = Number(process.env.BENCH_STORE_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_STORE_CONCURRENCY ?? 16);

const row = (keyId: number, i: number): UsageRow =>
  usageRow({
    requestId: `bench-${i}-${Math.random().toString(36).slice(2)}`,
    keyId,
    keyName: 'bench',
    promptTokens: 20,
    completionTokens: 10,
    costMicros: 30,
  });

/** The store calls of one proxied request, in the relay's order. */
async function oneRequest(store: Store, keyId: number, i: number): Promise<void> {
  const t = Date.now();
  const admission = await store.rates.hit(keyId, { rpm: 1e9, tpm: 1e12 }, t);
  if (!admission.admitted) throw new Error('bench key refused by its rate limit');
  const hold = await store.ledger.reserve(keyId, 100, 60_000);
  if (!hold) throw new Error('bench key out of quota');
  await store.ledger.settle(hold, row(keyId, i));
  await store.rates.addTokens(keyId, 30, t);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;

async function measure(name: string, store: Store): Promise<Record<string, string | number>> {
  const { record } = await store.keys.create({ name: 'bench', quotaUsd: 1e6 });
  for (let i = 0; i < 20; i++) await oneRequest(store, record.id, -i); // warm-up
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    await oneRequest(store, record.id, i);
    latencies.push((performance.now() - start) * 1000);
  }
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) await oneRequest(store, record.id, REQUESTS + next++);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return {
    store: name,
    'p50 µs/req (sequential)': Math.round(percentile(latencies, 0.5)),
    'p99 µs/req (sequential)': Math.round(percentile(latencies, 0.99)),
    // The relay side alone: dynalite runs in a process of its own.
    'relay CPU µs/req': Math.round((used.user + used.system) / REQUESTS),
    [`req/s at ${CONCURRENCY} concurrent`]: Math.round(REQUESTS / seconds),
  };
}

/** dynalite in a process of its own, so that its work is not counted as the relay's. */
async function startDynaliteProcess() {
  const port = await freePort();
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const proc = spawn(
    process.execPath,
    [cli, '--host', '127.0.0.1', '--port', String(port), '--createTableMs', '0'],
    {
      stdio: 'ignore',
    },
  );
  const base = {
    endpoint: `http://127.0.0.1:${port}`,
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
  };
  for (let i = 0; ; i++) {
    try {
      await createTables({ ...base, tablePrefix: 'bench-' });
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    store: () => openDynamoStore({ ...base, tablePrefix: 'bench-' }),
    stop: () => proc.kill(),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
const results: Record<string, string | number>[] = [];
try {
  const sqlite = new SqliteStore({ path: join(dir, 'relay.db') });
  results.push(await measure('SQLite (file, group commit)', sqlite));
  await sqlite.close();
  const db = await startDynaliteProcess();
  try {
    const dynamo = await db.store();
    results.push(await measure('DynamoDB on dynalite', dynamo));
    await dynamo.close();
  } finally {
    db.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const columns = Object.keys(results[0]!);
console.log(`| ${columns.join(' | ')} |\n| ${columns.map(() => '---').join(' | ')} |`);
for (const r of results) console.log(`| ${columns.map((c) => r[c]).join(' | ')} |`);
console.log(
  `\n${REQUESTS} requests each; dynalite is not DynamoDB (see the header of bench/store-overhead.ts).`,
);
