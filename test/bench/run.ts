/**
 * Relay overhead benchmark: `npm run bench`. Not part of `npm test`.
 *
 * Starts the loopback OpenAI upstream (test/fixtures/openai-upstream.ts) in this process and the
 * real relay as a child process (`node app/src/server.ts`, temp config and data dir, info logs to
 * /dev/null, SQLite usage rows as in production), then measures with undici over keep-alive:
 *   - non-stream chat: requests/s, p50 and p99 latency;
 *   - streaming chat: time to the first body byte (p50/p99) and requests/s;
 * each directly against the upstream and through the relay, at concurrency 1 and 32.
 * The difference between the two rows is the relay's overhead (auth, quota hold, routing,
 * forwarding, SSE re-framing, usage row). Every scenario is bounded by a request count and a
 * time budget, so the whole run takes well under a minute. Numbers depend on the machine and
 * on the client, upstream and relay sharing its cores: compare rows, not runs across machines.
 *
 * Options (env): BENCH_SECONDS (per scenario, default 3), BENCH_MAX_REQUESTS (default 20000),
 * BENCH_RELAY_ARGS (extra node flags for the relay process, e.g. --cpu-prof).
 */
import { rmSync } from 'node:fs';
import { Agent, request } from 'undici';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';

const UPSTREAM_KEY = 'sk-bench-upstream-0123456789';
const CLIENT_KEY = 'sk-bench-client-0123456789';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const MAX_REQUESTS = Number(process.env.BENCH_MAX_REQUESTS ?? 20_000);
const WARMUP = 200;
const CONCURRENCY = [1, 32];

const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 30_000, pipelining: 1 });

const chatBody = (stream: boolean) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    messages: [{ role: 'user', content: 'Say hello.' }],
  });

/** One request; returns [latency to the first body byte, latency to the end] in ms. */
async function once(
  base: string,
  auth: string,
  stream: boolean,
  body: string,
): Promise<[number, number]> {
  const t0 = performance.now();
  const res = await request(`${base}/chat/completions`, {
    method: 'POST',
    dispatcher,
    headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  let first = 0;
  let bytes = 0;
  for await (const chunk of res.body) {
    if (first === 0) first = performance.now() - t0;
    bytes += (chunk as Buffer).length;
  }
  const total = performance.now() - t0;
  if (res.statusCode !== 200 || bytes === 0) {
    throw new Error(`${base}: HTTP ${res.statusCode} (${bytes} bytes)`);
  }
  if (stream !== /text\/event-stream/.test(String(res.headers['content-type']))) {
    throw new Error(`${base}: unexpected content-type ${String(res.headers['content-type'])}`);
  }
  return [first, total];
}

interface Result {
  requests: number;
  seconds: number;
  first: number[];
  total: number[];
}

async function run(
  base: string,
  auth: string,
  stream: boolean,
  concurrency: number,
  seconds: number,
  max: number,
): Promise<Result> {
  const body = chatBody(stream);
  const first: number[] = [];
  const total: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  let issued = 0;
  const worker = async () => {
    while (issued < max && performance.now() < until) {
      issued++;
      const [f, t] = await once(base, auth, stream, body);
      first.push(f);
      total.push(t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { requests: total.length, seconds: (performance.now() - started) / 1000, first, total };
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const upstream = await startOpenAiUpstream({ apiKey: UPSTREAM_KEY });
  // BENCH_RELAY_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the relay process.
  const nodeArgs = (process.env.BENCH_RELAY_ARGS ?? '').split(' ').filter(Boolean);
  const relay = await spawnRelay({
    config: {
      channels: [
        {
          name: 'loopback',
          type: 'openai',
          baseUrl: upstream.url,
          apiKey: 'env:BENCH_UPSTREAM_KEY',
          models: ['gpt-4o-mini'],
        },
      ],
      keys: [{ name: 'bench', key: CLIENT_KEY, models: ['*'] }],
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
    },
    env: { BENCH_UPSTREAM_KEY: UPSTREAM_KEY },
    nodeArgs,
    // Info logs to nowhere, as in production where they go to a file, not a pipe we read.
    capture: false,
  });
  const relayBase = `${relay.baseUrl}/v1`;
  try {
    const targets = [
      { name: 'direct', base: upstream.url, auth: UPSTREAM_KEY },
      { name: 'relay', base: relayBase, auth: CLIENT_KEY },
    ];
    const rows: string[][] = [];
    const began = performance.now();
    for (const stream of [false, true]) {
      for (const concurrency of CONCURRENCY) {
        for (const target of targets) {
          // Warm up: JIT, keep-alive connections, SQLite pages.
          await run(target.base, target.auth, stream, concurrency, 2, WARMUP);
          const r = await run(target.base, target.auth, stream, concurrency, SECONDS, MAX_REQUESTS);
          const lat = stream ? r.first : r.total;
          rows.push([
            stream ? 'stream TTFB' : 'JSON latency',
            target.name,
            String(concurrency),
            String(r.requests),
            (r.requests / r.seconds).toFixed(0),
            pct(lat, 50).toFixed(2),
            pct(lat, 99).toFixed(2),
          ]);
          process.stderr.write('.');
        }
      }
    }
    process.stderr.write('\n');
    const header = ['scenario', 'target', 'conc', 'requests', 'req/s', 'p50 ms', 'p99 ms'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
    console.log('\nrelay overhead (relay − direct, p50):');
    for (let i = 0; i < rows.length; i += 2) {
      const [d, r] = [rows[i]!, rows[i + 1]!];
      const delta = Number(r[5]) - Number(d[5]);
      console.log(`  ${d[0]!.padEnd(12)} conc ${d[2]!.padStart(2)}: +${delta.toFixed(2)} ms`);
    }
    console.log(
      `\n${SECONDS} s per scenario, node ${process.version}, total ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
  } finally {
    relay.proc.kill('SIGTERM');
    const killer = setTimeout(() => relay.proc.kill('SIGKILL'), 5_000);
    await relay.exited;
    clearTimeout(killer);
    await dispatcher.close();
    await upstream.close();
    rmSync(relay.dataDir, { recursive: true, force: true });
  }
}

await main();
