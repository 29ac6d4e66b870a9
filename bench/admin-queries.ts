/**
 * Admin query benchmark: `npm run bench:admin` (not part of `npm test`). See bench/README.md.
 *
 * Seeds a SQLite store with BENCH_ROWS usage rows (default 1,000,000) spread over BENCH_DAYS
 * (default 90, the default retention) for 200 keys, 20 models and 4 channels; opens it as the
 * relay does (the daily rollups are built from the raw rows, as for a database from before
 * them) and times every overview, usage, request and channel query through the admin API
 * (app.request(), so routing, validation and JSON are included), filtered and combined request
 * lists among them. Target: p95 <= 50 ms. Then exports every row as CSV while a probe measures
 * the longest the event loop was held, and times one usage-row write with and without the
 * filter indexes. Last, the Channels page once its 15-minute window holds BUSY_ROWS rows.
 *
 * Env: BENCH_ROWS, BENCH_DAYS, BENCH_ITERATIONS (per query, default 50).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { createApp } from '../app/src/app.ts';
import { parseRelayConfig } from '../app/src/config.ts';
import { createLogger } from '../app/src/logger.ts';
import { timeOrderedId } from '../app/src/middleware/request-id.ts';
import type { Clock } from '../app/src/routing/clock.ts';
import { SqliteStore } from '../app/src/store/sqlite.ts';
import { FILTER_INDEX_NAMES, USAGE_FILTER_INDEXES } from '../app/src/store/sqlite-usage-scan.ts';
import type { UsageRow } from '../app/src/store/types.ts';
import { envInt } from './env.ts';

const ROWS = envInt('BENCH_ROWS', 1_000_000);
const DAYS = envInt('BENCH_DAYS', 90);
const ITERATIONS = envInt('BENCH_ITERATIONS', 50);
const TARGET_MS = 50;
const ADMIN_KEY = 'bench-admin-key-0123456789';
const NOW = Date.parse('2026-11-22T12:00:00Z');
const DAY = 86_400_000;

const KEYS = Array.from({ length: 200 }, (_, i) => `key-${String(i).padStart(3, '0')}`);
const MODELS = Array.from({ length: 20 }, (_, i) => `model-${i}`);
const CHANNELS = ['openai', 'deepseek', 'anthropic', 'backup'];

/** mulberry32, so every run seeds the same rows. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each key sticks to a few models, each model to one or two channels: like real traffic. */
const KEY_MODELS = (() => {
  const r = random(42);
  return KEYS.map(() =>
    Array.from({ length: 1 + Math.floor(r() * 3) }, () => MODELS[Math.floor(r() * MODELS.length)]!),
  );
})();

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Raw rows straight into the table, as months of traffic would have left them. */
function seed(path: string): { requestId: string } {
  const db = new DatabaseSync(path);
  // The store's own schema first (a store opened and closed), then rows without rollups.
  new SqliteStore({ path, timeZone: 'UTC' }).close();
  db.exec('DROP TABLE usage_daily; DELETE FROM meta;');
  const insert = db.prepare(
    `INSERT INTO usage (request_id, key_id, key_name, endpoint, model, upstream_model, channel,
       status, prompt_tokens, completion_tokens, cache_read_tokens, reasoning_tokens, cost_micros,
       latency_ms, ttfb_ms, source, error_code, error_message, created_at)
     VALUES (?, ?, ?, '/chat/completions', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'upstream', ?, ?, ?)`,
  );
  const r = random(43);
  const keyModels = KEY_MODELS;
  const start = NOW - DAYS * DAY;
  let sample = '';
  const batch = 10_000;
  for (let i = 0; i < ROWS; i += batch) {
    db.exec('BEGIN');
    for (let j = i; j < Math.min(ROWS, i + batch); j++) {
      const at = start + Math.floor(((j + r()) / ROWS) * DAYS * DAY);
      const k = Math.floor(r() ** 2 * KEYS.length);
      const model = keyModels[k]![Math.floor(r() * keyModels[k]!.length)]!;
      const channel = CHANNELS[(MODELS.indexOf(model) + (r() < 0.1 ? 1 : 0)) % CHANNELS.length]!;
      const roll = r();
      const status = roll < 0.95 ? 200 : roll < 0.98 ? 429 : 502;
      const id = `req_${timeOrderedId(at)}`;
      if (j === Math.floor(ROWS / 2)) sample = id;
      const prompt = Math.floor(r() * 4000);
      const completion = status === 200 ? Math.floor(r() * 1000) : 0;
      insert.run(
        id,
        k + 1,
        KEYS[k]!,
        model,
        model,
        status === 429 ? null : channel,
        status,
        prompt,
        completion,
        Math.floor(prompt * r() * 0.5),
        Math.floor(completion * r() * 0.3),
        status === 200 ? prompt + completion * 4 : 0,
        Math.floor(200 + r() * 5000),
        Math.floor(100 + r() * 800),
        status === 200 ? null : status === 429 ? 'rate_limit_exceeded' : 'upstream_error',
        status === 200 ? null : 'Upstream failed with HTTP 500: overloaded',
        at,
      );
    }
    db.exec('COMMIT');
    if (i % 200_000 === 0) log(`  seeded ${i.toLocaleString()} rows`);
  }
  db.close();
  return { requestId: sample };
}

const WRITES = 4_000;
/** Rows in the Channels page's 15-minute window for its busy case: 100 requests a second. */
const BUSY_ROWS = 90_000;

/** A busy quarter of an hour just before NOW, straight into the raw table. */
function seedBusyWindow(path: string): void {
  const db = new DatabaseSync(path);
  const insert = db.prepare(
    `INSERT INTO usage (request_id, key_id, key_name, endpoint, model, upstream_model, channel,
       status, prompt_tokens, completion_tokens, cost_micros, latency_ms, ttfb_ms, source,
       error_code, error_message, created_at)
     VALUES (?, ?, ?, '/chat/completions', ?, ?, ?, ?, 100, 20, 180, ?, ?, 'upstream', ?, ?, ?)`,
  );
  const r = random(44);
  const start = NOW - 15 * 60_000;
  db.exec('BEGIN');
  for (let i = 0; i < BUSY_ROWS; i++) {
    const at = start + Math.floor((i / BUSY_ROWS) * 15 * 60_000);
    const model = MODELS[i % MODELS.length]!;
    const status = r() < 0.95 ? 200 : 502;
    insert.run(
      `req_${timeOrderedId(at)}`,
      1 + (i % KEYS.length),
      KEYS[i % KEYS.length]!,
      model,
      model,
      CHANNELS[i % CHANNELS.length]!,
      status,
      Math.floor(200 + r() * 5000),
      Math.floor(100 + r() * 800),
      status === 200 ? null : 'upstream_error',
      status === 200 ? null : 'Upstream failed with HTTP 500: overloaded',
      at,
    );
  }
  db.exec('COMMIT');
  db.close();
}

type App = ReturnType<typeof createApp>;

const get = (app: App, path: string) =>
  app.request(`/admin/api${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });

/** Follows `next` from page to page until the walk ends; the slowest page is what a click costs. */
async function walkRare(
  app: App,
  path: string,
): Promise<{ pages: number; longestMs: number; rows: number }> {
  let cursor: string | null = null;
  let pages = 0;
  let rows = 0;
  let longestMs = 0;
  do {
    const start = performance.now();
    const res = await get(app, `${path}${cursor ? `&cursor=${cursor}` : ''}`);
    const page = (await res.json()) as { rows: unknown[]; next: string | null };
    longestMs = Math.max(longestMs, performance.now() - start);
    rows += page.rows.length;
    cursor = page.next;
    pages++;
  } while (cursor && pages < 10_000);
  return { pages, longestMs, rows };
}

/** Every retained row as CSV, while a probe notes the longest gap between turns of the event loop. */
async function exportAll(app: App) {
  const gaps: number[] = [];
  let last = performance.now();
  let running = true;
  const probe = () => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    if (running) setImmediate(probe);
  };
  // Garbage-collection pauses also stop the loop; they are told apart from the export's steps.
  let longestGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longestGcMs = Math.max(longestGcMs, e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  setImmediate(probe);
  const res = await get(app, '/usage/export.csv?from=2026-08-20');
  const reader = res.body!.getReader();
  let bytes = 0;
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    for (const b of value) if (b === 10) lines++;
  }
  running = false;
  gc.disconnect();
  gaps.sort((a, b) => a - b);
  return {
    lines,
    bytes,
    seconds: (performance.now() - start) / 1000,
    // The longest gap can be the OS running another process; p99 is the export's own steps.
    longestHoldMs: gaps.at(-1)!,
    p99HoldMs: percentile(gaps, 0.99),
    longestGcMs,
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * One usage-row write as the relay makes it (hold and settlement, rollups included) on the big
 * store: with the filter indexes, without them, and with them again (rebuilt) so that a warm
 * cache does not favour either side.
 */
function writeCost(store: SqliteStore, path: string): { withUs: number; withoutUs: number } {
  const r = random(7);
  const usage = (i: number): UsageRow => ({
    requestId: `req_write_${i}`,
    keyId: 1 + (i % KEYS.length),
    keyName: KEYS[i % KEYS.length]!,
    endpoint: '/chat/completions',
    model: MODELS[i % MODELS.length]!,
    upstreamModel: MODELS[i % MODELS.length]!,
    channel: CHANNELS[i % CHANNELS.length]!,
    status: r() < 0.95 ? 200 : 502,
    promptTokens: 100,
    completionTokens: 20,
    costMicros: 180,
    latencyMs: 900,
    ttfbMs: 300,
    source: 'upstream',
    errorCode: null,
  });
  let n = 0;
  const time = () => {
    const each: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const start = performance.now();
      store.recordUsage(usage(n++));
      each.push((performance.now() - start) * 1000);
    }
    return median(each);
  };
  const db = new DatabaseSync(path);
  const first = time();
  for (const name of FILTER_INDEX_NAMES) db.exec(`DROP INDEX ${name}`);
  const withoutUs = time();
  db.exec(USAGE_FILTER_INDEXES);
  const again = time();
  db.close();
  return { withUs: (first + again) / 2, withoutUs };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-admin-'));
  const path = join(dir, 'relay.db');
  log(`seeding ${ROWS.toLocaleString()} usage rows over ${DAYS} days…`);
  let t = performance.now();
  const { requestId } = seed(path);
  const seedSeconds = (performance.now() - t) / 1000;

  log('opening the store: daily rollups built from the raw rows…');
  t = performance.now();
  const store = new SqliteStore({ path, timeZone: 'UTC', now: () => NOW });
  const rollupSeconds = (performance.now() - t) / 1000;
  for (const name of KEYS) store.upsertKey({ name, key: `sk-bench-${name}-0123456789abcdef` });

  const clock: Clock = { now: () => NOW, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  const config = parseRelayConfig(
    {
      channels: CHANNELS.map((name) => ({
        name,
        baseUrl: 'http://127.0.0.1:9/v1',
        apiKey: 'unused',
        models: MODELS,
      })),
    },
    { ADMIN_KEY },
  );
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const app = createApp({ config, store, logger, clock, admin: store.admin });

  const rareModel = MODELS.find((m) => !KEY_MODELS[0]!.includes(m))!;
  const queries: [string, string][] = [
    ['overview', '/overview'],
    ['usage by key, 30 days', '/usage?groupBy=key'],
    ['usage by model, 30 days', '/usage?groupBy=model'],
    ['usage by channel, 30 days', '/usage?groupBy=channel'],
    ['usage by day, 30 days', '/usage?groupBy=day'],
    ['usage by key, 90 days', '/usage?groupBy=key&from=2026-08-25'],
    ['usage by day for one key, 90 days', '/usage?groupBy=day&key=key-007&from=2026-08-25'],
    [
      'usage by day, key and model it never uses, 90 days',
      `/usage?groupBy=day&key=key-000&model=${rareModel}&from=2026-08-25`,
    ],
    [
      'usage by model on one channel, 90 days',
      '/usage?groupBy=model&channel=backup&from=2026-08-25',
    ],
    ['keys (200, with usage)', '/keys'],
    ['channels', '/channels'],
    ['requests, newest 50', '/requests'],
    ['requests of one key', '/requests?key=key-150'],
    ['requests that failed', '/requests?status=error'],
    ['request by id', `/requests?requestId=${requestId}`],
    ['requests of one model', `/requests?model=${MODELS[7]}`],
    ['requests of one channel', '/requests?channel=backup'],
    ['requests answered 502', '/requests?status=502'],
    ['requests of one key that failed', '/requests?key=key-150&status=error'],
    ['one key on a model it never uses', `/requests?key=key-000&model=${rareModel}`],
    ['one model, one channel, 502s', `/requests?model=${MODELS[7]}&channel=backup&status=502`],
    ['no match at all', '/requests?model=no-such-model'],
    [
      'one key, one hour a month ago',
      '/requests?key=key-000&from=2026-10-22T12:00:00Z&to=2026-10-22T13:00:00Z',
    ],
  ];
  const results: { query: string; p50: number; p95: number; max: number }[] = [];
  const timeQuery = async (name: string, path: string) => {
    const times: number[] = [];
    for (let i = 0; i < ITERATIONS + 3; i++) {
      const start = performance.now();
      const res = await get(app, path);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
      if (i >= 3) times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    results.push({
      query: name,
      p50: percentile(times, 0.5),
      p95: percentile(times, 0.95),
      max: times[times.length - 1]!,
    });
    log(`  ${name}: p95 ${percentile(times, 0.95).toFixed(1)} ms`);
  };
  for (const [name, path] of queries) await timeQuery(name, path);

  const walk = await walkRare(app, `/requests?key=key-000&model=${rareModel}`);
  log(`  rare match walked: ${walk.pages} pages, longest ${walk.longestMs.toFixed(1)} ms`);

  log('exporting every row as CSV…');
  // One day first: the first export compiles its code paths, which is not what a hold measures.
  await (await get(app, '/usage/export.csv?from=2026-11-21&to=2026-11-21')).arrayBuffer();
  const csv = await exportAll(app);
  log(
    `  ${csv.lines.toLocaleString()} lines in ${csv.seconds.toFixed(1)} s, longest hold ${csv.longestHoldMs.toFixed(1)} ms`,
  );

  log('timing usage-row writes with and without the filter indexes…');
  const write = writeCost(store, path);

  log(`adding ${BUSY_ROWS.toLocaleString()} rows to the last 15 minutes…`);
  seedBusyWindow(path);
  await timeQuery(
    `channels, busy last 15 minutes (${BUSY_ROWS.toLocaleString()} rows in the window)`,
    '/channels',
  );

  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const lines = [
    `Admin queries on ${ROWS.toLocaleString()} usage rows over ${DAYS} days (Node ${process.version}, ${ITERATIONS} runs each, through app.request)`,
    '',
    '| query | p50 | p95 | max | p95 <= 50 ms |',
    '| ----- | --: | --: | --: | :---------: |',
    ...results.map(
      (r) =>
        `| ${r.query} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${r.p95 <= TARGET_MS ? 'yes' : 'NO'} |`,
    ),
    '',
    `seeding: ${seedSeconds.toFixed(1)} s; rollups built from the raw rows at open: ${rollupSeconds.toFixed(1)} s`,
    `a key on a model it never uses, walked to the end: ${walk.pages} pages of at most ${ms(walk.longestMs)} each`,
    `CSV export of every row (${csv.lines.toLocaleString()} lines, ${(csv.bytes / 1e6).toFixed(0)} MB): ${csv.seconds.toFixed(1)} s; event-loop holds p99 ${ms(csv.p99HoldMs)}, longest ${ms(csv.longestHoldMs)} (longest GC pause ${ms(csv.longestGcMs)})`,
    `one usage-row write (hold and settlement, median of ${WRITES.toLocaleString()}): ${write.withUs.toFixed(1)} µs with the filter indexes, ${write.withoutUs.toFixed(1)} µs without`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `admin-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { rows: ROWS, days: DAYS, results, seedSeconds, rollupSeconds, walk, csv, write },
      null,
      2,
    ),
  );
  log(`results: ${file}`);
  store.close();
  if (process.env.BENCH_KEEP) log(`kept ${path}`);
  else rmSync(dir, { recursive: true, force: true });
  if (results.some((r) => r.p95 > TARGET_MS)) process.exitCode = 1;
}

await main();
