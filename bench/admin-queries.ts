/**
 * Admin query benchmark: `npm run bench:admin` (not part of `npm test`). See bench/README.md.
 *
 * Seeds a SQLite store with BENCH_ROWS usage rows (default 1,000,000) spread over BENCH_DAYS
 * (default 90, the default retention) for 200 keys, 20 models and 4 channels; opens it as the
 * relay does (the daily rollups are built from the raw rows, as for a database from before
 * them) and times every overview, usage, request and channel query through the admin API
 * (app.request(), so routing, validation and JSON are included). Target: p95 <= 50 ms.
 *
 * Env: BENCH_ROWS, BENCH_DAYS, BENCH_ITERATIONS (per query, default 50).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

const envInt = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
};
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
  const r = random(42);
  // Each key sticks to a few models, each model to one or two channels: like real traffic.
  const keyModels = KEYS.map(() =>
    Array.from({ length: 1 + Math.floor(r() * 3) }, () => MODELS[Math.floor(r() * MODELS.length)]!),
  );
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

  const queries: [string, string][] = [
    ['overview', '/overview'],
    ['usage by key, 30 days', '/usage?groupBy=key'],
    ['usage by model, 30 days', '/usage?groupBy=model'],
    ['usage by channel, 30 days', '/usage?groupBy=channel'],
    ['usage by day, 30 days', '/usage?groupBy=day'],
    ['usage by key, 90 days', '/usage?groupBy=key&from=2026-08-25'],
    ['usage by day for one key, 90 days', '/usage?groupBy=day&key=key-007&from=2026-08-25'],
    ['keys (200, with usage)', '/keys'],
    ['channels', '/channels'],
    ['requests, newest 50', '/requests'],
    ['requests of one key', '/requests?key=key-150'],
    ['requests that failed', '/requests?status=error'],
    ['request by id', `/requests?requestId=${requestId}`],
  ];
  const results: { query: string; p50: number; p95: number; max: number }[] = [];
  for (const [name, path] of queries) {
    const times: number[] = [];
    for (let i = 0; i < ITERATIONS + 3; i++) {
      const start = performance.now();
      const res = await app.request(`/admin/api${path}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
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
  }

  t = performance.now();
  const csv = await app.request('/admin/api/usage/export.csv?from=2026-11-21&to=2026-11-21', {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const csvBytes = (await csv.arrayBuffer()).byteLength;
  const csvSeconds = (performance.now() - t) / 1000;
  const csvLines = Math.round(ROWS / DAYS);

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
    `CSV export of one day (~${csvLines.toLocaleString()} rows, ${(csvBytes / 1e6).toFixed(1)} MB): ${csvSeconds.toFixed(2)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `admin-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { rows: ROWS, days: DAYS, results, seedSeconds, rollupSeconds, csvSeconds, csvBytes },
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
