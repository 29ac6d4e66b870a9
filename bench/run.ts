/**
 * Relay overhead benchmark: `npm run bench` (not part of `npm test`). See bench/README.md.
 *
 * Builds the relay as it ships (esbuild bundle, scripts/build-relay.ts) and runs it as its own
 * process with a temp config, SQLite data dir and info logs going to a file; starts the bench
 * upstream (bench/upstream.ts) as separate processes; then measures every scenario both directly
 * against the upstream and through the relay, in the same run:
 *   - build: bundle size; start-up: spawn → first 200 from /healthz (3 starts);
 *   - non-streaming chat with wrk at 1, 10, 50, 200 connections;
 *   - streaming chat (20 chunks) with an undici client at 1 and 10 concurrent streams;
 *   - chunk forwarding: do 20 chunks sent 5 ms apart arrive as 20 separate reads?
 *   - relay RSS: after start, idle after warm-up, and peak under 1,000 concurrent open streams.
 * On Linux with taskset and ≥ 2 cores the relay runs alone on CPU 0; the upstreams, wrk and this
 * process share CPU 1. Results: a table on stdout and JSON under bench/results/.
 *
 * Env: BENCH_SECONDS (per scenario, default 5), BENCH_REPEATS (default 2), BENCH_CONNECTIONS
 * (default 1,10,50,200), BENCH_STREAMS (default 1,10), BENCH_OPEN_STREAMS (default 1000),
 * BENCH_QUICK=1 (1 s scenarios, 1 repeat: a smoke run), BENCH_NO_PIN=1 (never pin),
 * BENCH_RELAY_ARGS (node flags for the relay, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
 * BENCH_RELAY_LOG (where the benched relay's log goes, default relay.log in the run's temp
 * folder, deleted at the end: a path keeps it, or puts it on another disk such as tmpfs; it is
 * emptied at start, and must be a regular file because the bench reads it back at the end).
 */
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Agent, request } from 'undici';
import { RELAY_NODE_FLAGS } from '../app/src/node-flags.ts';
import { buildRelay } from '../scripts/build-relay.ts';
import {
  CLIENT_KEY,
  CLIENT_KEY_CONFIG,
  MODEL,
  PRICE,
  UPSTREAM_KEY,
  chatBody,
  floorEnv,
  relayEnv,
} from './chat.ts';
import { cpuLabel, readCpuinfo } from './cpu-model.ts';
import { readCpuTicks, stealPct } from './host-steal.ts';
import { ownTimeByScenario, summarizeRelayLog } from './relay-log.ts';
import {
  freePort,
  killAll,
  onPath,
  portFromStdout,
  spawnTracked,
  stopAll,
  stopChild,
  table,
  waitHealthy,
} from './processes.ts';
import type { LogWindow } from './relay-log.ts';
import { ascending, mb, mean, median, pct, summarize } from './stats.ts';

const BENCH_DIR = import.meta.dirname;
const REPO_ROOT = join(BENCH_DIR, '..');
const UPSTREAM_TS = join(BENCH_DIR, 'upstream.ts');
const FLOOR_TS = join(BENCH_DIR, 'floor-proxy.ts');
const WRK_LUA = join(BENCH_DIR, 'wrk-chat.lua');
const CHUNKS = 20;

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};
const envList = (name: string, fallback: number[]): number[] => {
  const raw = process.env[name];
  if (!raw) return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${name} must be a comma list of positive integers`);
  }
  return list;
};

const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = QUICK ? 1 : envNumber('BENCH_SECONDS', 5);
const REPEATS = QUICK ? 1 : Math.round(envNumber('BENCH_REPEATS', 2));
const CONNECTIONS = envList('BENCH_CONNECTIONS', [1, 10, 50, 200]);
const STREAMS = envList('BENCH_STREAMS', [1, 10]);
const OPEN_STREAMS = Math.round(envNumber('BENCH_OPEN_STREAMS', 1000));
const WARMUP_SECONDS = 1;
const STARTS = 5;
const START_RSS_SETTLE_MS = 500;
const RELAY_ARGS = (process.env.BENCH_RELAY_ARGS ?? '').split(' ').filter(Boolean);
const RELAY_LOG = process.env.BENCH_RELAY_LOG || undefined;
/** `0` skips the dialect scenarios: a profile of chat alone (see bench/README.md, Profiling). */
const DIALECTS = process.env.BENCH_DIALECTS !== '0';

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const ms3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const signed = (x: number) => (x >= 0 ? '+' : '') + ms3(x);
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const pc = (x: number) => `${x.toFixed(1)}%`;

/** relay − direct, metric by metric. */
function added<K extends string>(
  relay: Readonly<Record<K, number>>,
  direct: Readonly<Record<K, number>>,
  keys: readonly K[],
): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, relay[k] - direct[k]])) as Record<K, number>;
}

const say = (s = '') => process.stdout.write(`${s}\n`);
const progress = (s: string) => process.stderr.write(`  … ${s}\n`);

// ---------------------------------------------------------------------------------------------
// Processes (bench/processes.ts tracks them and stops them in `finally` and on Ctrl-C).

interface Layout {
  pinned: boolean;
  relayCpu: string;
  otherCpu: string;
  /** When pinned, the CPUs of the relay's side and of the load's, for their steal. */
  relayCores?: readonly number[];
  otherCores?: readonly number[];
  note: string;
}

interface Upstream {
  name: string;
  proc: ChildProcess;
  port: number;
  base: string;
}

async function startUpstream(name: string, gapMs: number, cpu: string | null): Promise<Upstream> {
  const proc = spawnTracked(cpu, process.execPath, [UPSTREAM_TS], {
    env: {
      PATH: process.env.PATH,
      BENCH_UPSTREAM_KEY: UPSTREAM_KEY,
      BENCH_CHUNKS: String(CHUNKS),
      BENCH_GAP_MS: String(gapMs),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await portFromStdout(proc, `upstream ${name}`);
  proc.stdout!.resume();
  return { name, proc, port, base: `http://127.0.0.1:${port}/v1` };
}

interface Relay {
  proc: ChildProcess;
  port: number;
  base: string;
  startupMs: number;
}

async function startRelay(
  outdir: string,
  configPath: string,
  dataDir: string,
  logPath: string,
  cpu: string | null,
  nodeArgs: string[],
): Promise<Relay> {
  const port = await freePort();
  const log = openSync(logPath, 'a');
  const t0 = performance.now();
  const proc = spawnTracked(
    cpu,
    process.execPath,
    [...RELAY_NODE_FLAGS, ...nodeArgs, join(outdir, 'server.mjs')],
    {
      env: {
        PATH: process.env.PATH,
        ...relayEnv(configPath, dataDir, port),
      },
      // Production logs go to a file (journald/CloudWatch agent), not a pipe this process reads.
      stdio: ['ignore', log, log],
    },
  );
  closeSync(log);
  try {
    const what = `the relay (its log: ${logPath})`;
    await waitHealthy(proc, port, { timeoutMs: 20_000, everyMs: 5, tryMs: 1_000, what });
  } catch (err) {
    await stopChild(proc);
    throw err;
  }
  return { proc, port, base: `http://127.0.0.1:${port}/v1`, startupMs: performance.now() - t0 };
}

/** Resident set size of a process in KiB. */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Not Linux: ask ps.
  }
  const r = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || NaN;
}

/** Established TCP connections whose server side is `port` (Linux only; NaN elsewhere). */
function connectionsTo(port: number): number {
  try {
    const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    let n = 0;
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(hex) && cols[3] === '01') n++;
    }
    return n;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Load: wrk for non-streaming chat

interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
}

async function runWrk(
  cpu: string | null,
  url: string,
  auth: string,
  body: string,
  connections: number,
  seconds: number,
): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', WRK_LUA, url];
  const proc = spawnTracked(cpu, 'wrk', args, {
    env: { PATH: process.env.PATH, BENCH_BODY: body, BENCH_AUTH: auth },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const killer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 30) * 1000);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(killer);
  const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (${code}):\n${out}`);
  return JSON.parse(line) as WrkResult;
}

// ---------------------------------------------------------------------------------------------
// Load: undici client for streaming chat

interface StreamSample {
  ok: boolean;
  ttfbMs: number;
  /** First content token: the first read by which a non-empty `"content":"…"` has arrived. */
  ttftMs: number;
  totalMs: number;
  /** [ms since request start, bytes] per body read. */
  reads: Array<[number, number]>;
  text: string;
  error?: string;
}

const FIRST_CONTENT = /"content":"[^"]/;

async function streamOnce(
  dispatcher: Agent,
  base: string,
  auth: string,
  model: string,
  keepReads: boolean,
  timeoutMs = 30_000,
): Promise<StreamSample> {
  const t0 = performance.now();
  const reads: Array<[number, number]> = [];
  let ttfbMs = NaN;
  let ttftMs = NaN;
  let text = '';
  try {
    const res = await request(`${base}/chat/completions`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: chatBody(model, true),
      signal: AbortSignal.timeout(timeoutMs),
    });
    for await (const chunk of res.body) {
      const at = performance.now() - t0;
      if (Number.isNaN(ttfbMs)) ttfbMs = at;
      const s = (chunk as Buffer).toString('utf8');
      if (keepReads) reads.push([at, s.length]);
      // The role chunk's `"content":""` is no token; a token may straddle two reads.
      if (Number.isNaN(ttftMs) && FIRST_CONTENT.test(text.slice(-20) + s)) ttftMs = at;
      text += s;
    }
    const totalMs = performance.now() - t0;
    const ok = res.statusCode === 200 && text.trimEnd().endsWith('data: [DONE]');
    const error = ok ? undefined : `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
    return { ok, ttfbMs, ttftMs, totalMs, reads, text: keepReads ? text : '', error };
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { ok: false, ttfbMs, ttftMs, totalMs: performance.now() - t0, reads, text, error };
  }
}

interface StreamLoad {
  streams: number;
  seconds: number;
  failed: number;
  firstError?: string;
  ttfbMs: { p50: number; p99: number };
  ttftMs: { p50: number; p99: number };
  totalMs: { p50: number; p99: number };
}

async function streamLoad(
  base: string,
  auth: string,
  concurrency: number,
  seconds: number,
): Promise<StreamLoad> {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  const ttfb: number[] = [];
  const ttft: number[] = [];
  const total: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const until = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const s = await streamOnce(dispatcher, base, auth, MODEL, false);
      if (s.ok) {
        ttfb.push(s.ttfbMs);
        ttft.push(s.ttftMs);
        total.push(s.totalMs);
      } else {
        failed++;
        firstError ??= s.error;
        await sleep(10);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await dispatcher.close();
  }
  const [ttfbUp, ttftUp, totalUp] = [ascending(ttfb), ascending(ttft), ascending(total)];
  return {
    streams: total.length,
    seconds: (performance.now() - started) / 1000,
    failed,
    firstError,
    ttfbMs: { p50: pct(ttfbUp, 50), p99: pct(ttfbUp, 99) },
    ttftMs: { p50: pct(ttftUp, 50), p99: pct(ttftUp, 99) },
    totalMs: { p50: pct(totalUp, 50), p99: pct(totalUp, 99) },
  };
}

const MESSAGES_MODEL = 'claude-bench';
const GEMINI_MODEL = 'gemini-bench';

function geminiBody(): string {
  return JSON.stringify({
    contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }],
    generationConfig: { maxOutputTokens: 256 },
  });
}

/** Gemini's path for a model: the stream is in the path, not the body. */
const geminiPath = (model: string, stream: boolean) =>
  `models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;

/** CPU time (user + system) the process has used so far, in ms, or undefined off Linux. */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux.
  } catch {
    return undefined;
  }
}

function messagesBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Say hello.' }],
    ...(stream ? { stream: true } : {}),
  });
}

type Dialect = 'chat' | 'messages' | 'gemini';

/**
 * Each client dialect against each upstream dialect, through the running relay, with the
 * relay's CPU time per request (from /proc), the number that says what translation costs.
 */
async function benchDialects(base: string, cpu: string | null, relayPid: number) {
  const cases: { name: string; client: Dialect; model: string }[] = [
    { name: 'chat → openai (pass-through)', client: 'chat', model: MODEL },
    { name: 'messages → anthropic (pass-through)', client: 'messages', model: MESSAGES_MODEL },
    { name: 'messages → openai (translated)', client: 'messages', model: MODEL },
    { name: 'chat → anthropic (translated)', client: 'chat', model: MESSAGES_MODEL },
    { name: 'gemini → gemini (pass-through)', client: 'gemini', model: GEMINI_MODEL },
    { name: 'gemini → openai (translated)', client: 'gemini', model: MODEL },
    { name: 'chat → gemini (translated)', client: 'chat', model: GEMINI_MODEL },
  ];
  const request = (c: (typeof cases)[number], stream: boolean) => {
    if (c.client === 'gemini') return { path: geminiPath(c.model, stream), body: geminiBody() };
    if (c.client === 'messages') return { path: 'messages', body: messagesBody(c.model, stream) };
    return { path: 'chat/completions', body: chatBody(c.model, stream) };
  };
  const rows = [];
  for (const stream of [false, true]) {
    for (const c of cases) {
      const { path, body } = request(c, stream);
      progress(`dialects ${c.name} ${stream ? 'stream' : 'JSON'}`);
      await runWrk(cpu, `${base}/${path}`, CLIENT_KEY, body, 10, WARMUP_SECONDS);
      const reps: WrkResult[] = [];
      const cpuBefore = cpuMs(relayPid);
      for (let rep = 1; rep <= REPEATS; rep++)
        reps.push(await runWrk(cpu, `${base}/${path}`, CLIENT_KEY, body, 10, SECONDS));
      const cpuAfter = cpuMs(relayPid);
      const requests = reps.reduce((n, w) => n + w.requests, 0);
      rows.push({
        name: c.name,
        stream,
        rps: mean(reps.map((w) => w.requests / (w.duration_us / 1e6))),
        p50: mean(reps.map((w) => w.latency_us.p50 / 1000)),
        p99: mean(reps.map((w) => w.latency_us.p99 / 1000)),
        non2xx: reps.reduce((n, w) => n + w.non2xx, 0),
        cpuUsPerRequest:
          cpuBefore === undefined || cpuAfter === undefined || requests === 0
            ? undefined
            : ((cpuAfter - cpuBefore) * 1000) / requests,
        pctOfChat: 0,
      });
    }
  }
  for (const r of rows) {
    const chat = rows.find((x) => x.stream === r.stream && x.name.startsWith('chat → openai'))!;
    r.pctOfChat = (r.rps / chat.rps) * 100;
  }
  return rows;
}

/** The dialect scenarios and their tables (skipped with BENCH_DIALECTS=0). */
async function dialectsSection(base: string, cpu: string | null, relayPid: number) {
  const dialects = await benchDialects(base, cpu, relayPid);
  say(
    'Dialects (wrk, 10 connections, JSON and stream bodies read whole): chat, Messages and ' +
      'Gemini passed through to an upstream of their own dialect, and translated to others; ' +
      'relay CPU µs per request from /proc:',
  );
  say();
  say(
    table(
      [
        'client → upstream',
        'body',
        'req/s',
        'p50 ms',
        'p99 ms',
        '% of chat pass-through',
        'CPU µs/req',
        'non-2xx',
      ],
      dialects.map((d) => [
        d.name,
        d.stream ? 'stream' : 'JSON',
        int(d.rps),
        ms3(d.p50),
        ms3(d.p99),
        pc(d.pctOfChat),
        d.cpuUsPerRequest === undefined ? 'n/a' : int(d.cpuUsPerRequest),
        String(d.non2xx),
      ]),
    ),
  );
  say();
  const geminiCost = geminiTranslationCost(dialects);
  say('Gemini translation cost (relay CPU per request over Gemini pass-through; target ≤ +20 %):');
  say();
  say(
    table(
      ['scenario', 'body', 'CPU µs/req', 'pass-through µs/req', 'added'],
      geminiCost.map((g) => [
        g.name,
        g.stream ? 'stream' : 'JSON',
        g.cpuUsPerRequest === undefined ? 'n/a' : int(g.cpuUsPerRequest),
        g.passThroughCpuUs === undefined ? 'n/a' : int(g.passThroughCpuUs),
        g.addedPct === undefined ? 'n/a' : (g.addedPct >= 0 ? '+' : '') + pc(g.addedPct),
      ]),
    ),
  );
  say();
  return { dialects, geminiTranslation: geminiCost };
}

/**
 * What translating a Gemini request costs the relay: CPU per request of each translated Gemini
 * scenario over Gemini pass-through (the target is at most +20 %).
 */
function geminiTranslationCost(rows: Awaited<ReturnType<typeof benchDialects>>) {
  return [false, true].flatMap((stream) => {
    const pass = rows.find(
      (r) => r.stream === stream && r.name === 'gemini → gemini (pass-through)',
    );
    return rows
      .filter(
        (r) => r.stream === stream && r.name.includes('gemini') && r.name.includes('translated'),
      )
      .map((r) => ({
        name: r.name,
        stream,
        cpuUsPerRequest: r.cpuUsPerRequest,
        passThroughCpuUs: pass?.cpuUsPerRequest,
        addedPct:
          r.cpuUsPerRequest === undefined || pass?.cpuUsPerRequest === undefined
            ? undefined
            : (r.cpuUsPerRequest / pass.cpuUsPerRequest - 1) * 100,
      }));
  });
}

// ---------------------------------------------------------------------------------------------
// Machine and CPU layout

function machine() {
  const wrk = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  return {
    cores: os.availableParallelism(),
    cpuModel: cpuLabel(os.cpus()[0]?.model.trim() ?? 'unknown', readCpuinfo()),
    totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    wrk: `${wrk.stdout}${wrk.stderr}`.split('\n')[0]?.trim() ?? 'unknown',
    date: new Date().toISOString(),
    /** 1-minute load average when the bench starts: above ~0.5, something else is running. */
    loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

function pinLayout(): Layout {
  const unpinned = (note: string): Layout => ({
    pinned: false,
    relayCpu: 'any',
    otherCpu: 'any',
    note,
  });
  if (process.env.BENCH_NO_PIN === '1') return unpinned('unpinned (BENCH_NO_PIN=1)');
  if (process.platform !== 'linux' || !onPath('taskset')) {
    return unpinned('unpinned: taskset not available (Linux util-linux); numbers are noisier');
  }
  if (os.availableParallelism() < 2) return unpinned('unpinned: fewer than 2 cores');
  // -a: every thread of this process (libuv pool, GC helpers), not just the main one.
  const r = spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) return unpinned(`unpinned: taskset failed: ${r.stderr.trim()}`);
  return {
    pinned: true,
    relayCpu: '0',
    otherCpu: '1',
    relayCores: [0],
    otherCores: [1],
    note: 'relay alone on CPU 0; upstreams, wrk and the bench process (undici client) on CPU 1',
  };
}

// ---------------------------------------------------------------------------------------------

const TARGET_NAMES = ['direct', 'relay', 'floor'] as const;
type TargetName = (typeof TARGET_NAMES)[number];

interface Target {
  name: TargetName;
  base: string;
  auth: string;
}

/**
 * The hypervisor's steal during a run, in % (host-steal.ts): of the relay's core and of the
 * load's when pinned; unpinned, of all CPUs in `relayCore`, and `otherCore` is NaN.
 */
interface Steal {
  relayCore: number;
  otherCore: number;
}

interface Watched<T> {
  value: T;
  cpuMs: number;
  peakRssKiB: number;
  steal: Steal;
  /** Wall-clock bounds of the run, to find its lines in the relay's log. */
  window: LogWindow;
}

/**
 * Runs `fn` while watching a process: its CPU time over the run (ms) and its peak RSS (KiB),
 * sampled every 50 ms (both NaN without a process: the upstream itself), and the machine's
 * steal over the run.
 */
async function watched<T>(
  pid: number | undefined,
  layout: Layout,
  fn: () => Promise<T>,
): Promise<Watched<T>> {
  const ticks = readCpuTicks();
  const from = Date.now();
  const finish = (value: T, cpu: number, peakRssKiB: number): Watched<T> => {
    const after = readCpuTicks();
    return {
      value,
      cpuMs: cpu,
      peakRssKiB,
      steal: layout.pinned
        ? {
            relayCore: stealPct(ticks, after, layout.relayCores),
            otherCore: stealPct(ticks, after, layout.otherCores),
          }
        : { relayCore: stealPct(ticks, after), otherCore: NaN },
      window: { from, to: Date.now() },
    };
  };
  if (pid === undefined) return finish(await fn(), NaN, NaN);
  let peak = rssKiB(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 50);
  const before = cpuMs(pid);
  try {
    const value = await fn();
    const after = cpuMs(pid);
    peak = Math.max(peak, rssKiB(pid));
    return finish(value, before === undefined || after === undefined ? NaN : after - before, peak);
  } finally {
    clearInterval(sampler);
  }
}

/**
 * The relay's own time per request, by scenario (repetitions pooled), read back from its log:
 * its own code's part of the added latency (what it leaves out is printed with it).
 */
function ownTimeSection(
  windows: readonly { label: string }[],
  relayMs: readonly number[][],
  results: Record<string, unknown>,
): void {
  const rows = ownTimeByScenario(
    windows.map((w) => w.label),
    relayMs,
  );
  results.relayOwnTimeMs = rows;
  say("## The relay's own time per request");
  say();
  say(
    'From each request’s log line (`relayMs`, also sent as `x-relay-overhead-ms`): from the ' +
      'relay’s first look at the request to its answer’s head, less the time it waited on the ' +
      'upstream; for a stream, to its first byte. Not in it: what comes before the request ' +
      'reaches the relay’s code (the socket, Node’s parser, a garbage collection or another ' +
      'request in the way), what the relay does while it waits (its write to the upstream, ' +
      'undici reading the answer’s head, a collection meanwhile) and the hops between processes ' +
      'and cores, which the added latency above counts. All repetitions of each scenario:',
  );
  say();
  say(
    table(
      ['scenario', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
      rows.map((r) => [
        r.scenario,
        int(r.requests),
        ms3(r.p50),
        ms3(r.p90),
        ms3(r.p99),
        ms3(r.p999),
        ms3(r.max),
      ]),
    ),
  );
  say();
}

/** `relay core / load core` steal, as the per-run tables show it (unpinned: all CPUs). */
function stealCell(s: Steal): string {
  if (!Number.isFinite(s.relayCore)) return '—';
  if (!Number.isFinite(s.otherCore)) return `${s.relayCore.toFixed(1)} (all CPUs)`;
  return `${s.relayCore.toFixed(1)} / ${s.otherCore.toFixed(1)}`;
}

async function main(): Promise<void> {
  if (!onPath('wrk')) {
    console.error(
      'npm run bench needs wrk (HTTP load generator) on PATH:\n' +
        '  Debian/Ubuntu: sudo apt-get install wrk\n' +
        '  macOS:         brew install wrk',
    );
    process.exit(2);
  }
  const began = performance.now();
  const info = machine();
  const layout = pinLayout();
  const relayCpu = layout.pinned ? layout.relayCpu : null;
  const otherCpu = layout.pinned ? layout.otherCpu : null;
  const tmp = mkdtempSync(join(os.tmpdir(), 'llm-relay-bench-'));
  const onSignal = () => {
    killAll();
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  say('# llm-relay benchmark');
  say();
  say(
    table(
      ['machine', ''],
      [
        ['cores', String(info.cores)],
        ['CPU', info.cpuModel],
        ['memory', `${info.totalMemoryMB} MiB`],
        ['node', info.node],
        ['OS', info.os],
        ['wrk', info.wrk],
        ['date', info.date],
        ['load average (1 min) at start', String(info.loadAverage)],
      ],
    ),
  );
  say();
  say(`CPU layout: ${layout.note}`);
  say(
    `Scenarios: ${SECONDS} s each, ${REPEATS} repetition(s), ${WARMUP_SECONDS} s warm-up per target` +
      (QUICK ? ' (BENCH_QUICK=1: smoke run, numbers are rough)' : ''),
  );
  say();

  const results: Record<string, unknown> = {
    machine: info,
    layout,
    settings: {
      seconds: SECONDS,
      repeats: REPEATS,
      connections: CONNECTIONS,
      streams: STREAMS,
      openStreams: OPEN_STREAMS,
      quick: QUICK,
      relayArgs: RELAY_ARGS,
    },
  };
  const notes: string[] = [];
  let relay: Relay | undefined;
  const upstreams: Upstream[] = [];
  try {
    // --- Build, exactly as it ships.
    progress('building the relay bundle');
    const outdir = join(tmp, 'relay');
    const tb = performance.now();
    await buildRelay({ outdir });
    const buildMs = performance.now() - tb;
    const bundleBytes = statSync(join(outdir, 'server.mjs')).size;
    // The entry point plus every chunk (lazy ones included): what ships.
    const allBytes = readdirSync(outdir)
      .filter((f) => f.endsWith('.mjs'))
      .reduce((n, f) => n + statSync(join(outdir, f)).size, 0);

    // --- Upstreams: fast (no gaps), gap (5 ms between chunks), slow (50 ms: ~1 s per stream).
    progress('starting upstreams');
    const fast = await startUpstream('fast', 0, otherCpu);
    const gap = await startUpstream('gap', 5, otherCpu);
    const slow = await startUpstream('slow', 50, otherCpu);
    upstreams.push(fast, gap, slow);

    const channel = (name: string, up: Upstream, model: string) => ({
      name,
      type: 'openai',
      baseUrl: up.base,
      apiKey: 'env:BENCH_UPSTREAM_KEY',
      models: [model],
      ...(model === MODEL ? {} : { modelMap: { [model]: MODEL } }),
    });
    const config = {
      channels: [
        channel('fast', fast, MODEL),
        channel('gap', gap, 'bench-gap'),
        channel('slow', slow, 'bench-slow'),
        // The same fast upstream, spoken to in Anthropic's Messages for the dialect scenarios.
        { ...channel('fast-messages', fast, MESSAGES_MODEL), type: 'anthropic' },
        // And in Gemini's generateContent, at the upstream's /v1beta.
        {
          ...channel('fast-gemini', fast, GEMINI_MODEL),
          type: 'gemini',
          baseUrl: fast.base.replace(/\/v1$/, '/v1beta'),
        },
      ],
      keys: [CLIENT_KEY_CONFIG],
      prices: {
        [MODEL]: PRICE,
        'bench-gap': PRICE,
        'bench-slow': PRICE,
        [MESSAGES_MODEL]: PRICE,
        [GEMINI_MODEL]: PRICE,
      },
    };
    const configPath = join(tmp, 'relay.config.json');
    const dataDir = join(tmp, 'data');
    const logPath = RELAY_LOG ?? join(tmp, 'relay.log');
    // Every start appends to it: a log of an earlier run would count in this one's checks.
    if (RELAY_LOG) writeFileSync(RELAY_LOG, '');
    mkdirSync(dataDir);
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    // --- Start-up time: the first start creates the SQLite file, the others reopen it.
    const startups: number[] = [];
    const startRss: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      progress(`start-up ${i + 1}/${STARTS}`);
      const r = await startRelay(outdir, configPath, dataDir, logPath, relayCpu, []);
      startups.push(r.startupMs);
      // Once the start's own garbage had a moment to go (a timer or two after /healthz).
      await sleep(START_RSS_SETTLE_MS);
      startRss.push(rssKiB(r.proc.pid!));
      await stopChild(r.proc);
    }
    results.build = { bundleBytes, allBytes, buildMs };
    results.startup = {
      runsMs: startups,
      minMs: Math.min(...startups),
      medianMs: median(startups),
      rssKiB: startRss,
      medianRssKiB: median(startRss),
    };
    say('## Build and start-up');
    say();
    say(
      table(
        ['what', 'value'],
        [
          [
            'bundle dist/relay/server.mjs',
            `${int(bundleBytes)} bytes (${(bundleBytes / 1024 / 1024).toFixed(2)} MiB)`,
          ],
          [
            'bundle, all .mjs files (chunks read on first use included)',
            `${int(allBytes)} bytes (${(allBytes / 1024 / 1024).toFixed(2)} MiB)`,
          ],
          ['esbuild time', `${ms3(buildMs)} ms`],
          ...startups.map((s, i) => [
            `start-up ${i + 1} (spawn → /healthz 200)${i === 0 ? ', new DB' : ''}`,
            `${ms3(s)} ms`,
          ]),
          ['start-up best / median', `${ms3(Math.min(...startups))} / ${ms3(median(startups))} ms`],
          [
            `RSS ${START_RSS_SETTLE_MS} ms after /healthz 200: median (each start)`,
            `${mb(median(startRss))} (${startRss.map(mb).join(', ')})`,
          ],
        ],
      ),
    );
    say();

    // --- The relay under test.
    progress('starting the relay');
    relay = await startRelay(outdir, configPath, dataDir, logPath, relayCpu, RELAY_ARGS);
    const relayPid = relay.proc.pid!;
    const rssAfterStart = rssKiB(relayPid);
    const targets: Target[] = [
      { name: 'direct', base: fast.base, auth: UPSTREAM_KEY },
      { name: 'relay', base: relay.base, auth: CLIENT_KEY },
    ];

    // Sanity: one request of each kind through each target.
    const check = new Agent({ connections: 2 });
    for (const t of targets) {
      const r = await request(`${t.base}/chat/completions`, {
        method: 'POST',
        dispatcher: check,
        headers: { authorization: `Bearer ${t.auth}`, 'content-type': 'application/json' },
        body: chatBody(MODEL, false),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await r.body.text();
      if (r.statusCode !== 200 || !text.includes('"choices"')) {
        throw new Error(`${t.name}: chat answered ${r.statusCode}: ${text.slice(0, 300)}`);
      }
      const s = await streamOnce(check, t.base, t.auth, MODEL, false, 10_000);
      if (!s.ok) throw new Error(`${t.name}: stream failed: ${s.error}`);
    }
    await check.close();

    // --- The floor: a bare Hono + undici pass-through on the relay's core, loaded beside the
    // relay in every scenario (direct, relay, floor back to back).
    const floorProc = spawnTracked(relayCpu, process.execPath, [...RELAY_NODE_FLAGS, FLOOR_TS], {
      env: { PATH: process.env.PATH, ...floorEnv(fast.base) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const floorBase = `http://127.0.0.1:${await portFromStdout(floorProc, 'floor proxy')}/v1`;
    floorProc.stdout!.resume();
    const floorPid = floorProc.pid!;
    const allTargets: Target[] = [...targets, { name: 'floor', base: floorBase, auth: 'x' }];
    /** The process behind a target, for its CPU and RSS (none for the upstream itself). */
    const pidOf = (t: Target) =>
      t.name === 'relay' ? relayPid : t.name === 'floor' ? floorPid : undefined;

    // --- Non-streaming chat with wrk.
    const jsonBody = chatBody(MODEL, false);
    for (const t of allTargets) {
      progress(`warm-up ${t.name} (wrk ${WARMUP_SECONDS} s)`);
      await runWrk(otherCpu, `${t.base}/chat/completions`, t.auth, jsonBody, 10, WARMUP_SECONDS);
    }
    await sleep(500);
    const rssIdle = rssKiB(relayPid);

    interface WrkRun {
      target: TargetName;
      connections: number;
      rep: number;
      rps: number;
      p50: number;
      p90: number;
      p99: number;
      /** The relay's or the floor's CPU per request (user + system), NaN for direct. */
      cpuUs: number;
      /** The relay's or the floor's peak RSS in the run, KiB. */
      peakRssKiB: number;
      steal: Steal;
      requests: number;
      errors: number;
      non2xx: number;
      raw: WrkResult;
    }
    const wrkRuns: WrkRun[] = [];
    /** The relay's runs, by scenario label, to read its own time from its log at the end. */
    const ownTimeWindows: { label: string; window: LogWindow }[] = [];
    for (const c of CONNECTIONS) {
      for (let rep = 1; rep <= REPEATS; rep++) {
        // Direct, relay and floor back to back, so drift in the machine hits every row alike.
        for (const t of allTargets) {
          progress(`non-stream ${t.name} c=${c} rep ${rep}`);
          const {
            value: w,
            cpuMs,
            peakRssKiB,
            steal,
            window,
          } = await watched(pidOf(t), layout, () =>
            runWrk(otherCpu, `${t.base}/chat/completions`, t.auth, jsonBody, c, SECONDS),
          );
          if (t.name === 'relay') ownTimeWindows.push({ label: `chat, ${c} conn.`, window });
          const e = w.errors;
          wrkRuns.push({
            target: t.name,
            connections: c,
            rep,
            rps: w.requests / (w.duration_us / 1e6),
            p50: w.latency_us.p50 / 1000,
            p90: w.latency_us.p90 / 1000,
            p99: w.latency_us.p99 / 1000,
            cpuUs: w.requests > 0 ? (cpuMs * 1000) / w.requests : NaN,
            peakRssKiB,
            steal,
            requests: w.requests,
            errors: e.connect + e.read + e.write + e.timeout,
            non2xx: w.non2xx,
            raw: w,
          });
        }
      }
    }
    const rssAfterLoad = rssKiB(relayPid);

    say('## Non-streaming chat (wrk, -t1, keep-alive)');
    say();
    say(
      'Every repetition; CPU is the process’s own per request (user + system, from /proc), RSS ' +
        'its peak during the run (sampled every 50 ms), steal the share of the relay’s core / ' +
        'the load’s core (unpinned: of all CPUs) that the hypervisor gave to others meanwhile ' +
        '(/proc/stat; a VM whose steal is above ~1 % is shared, and its numbers move with its ' +
        'neighbours):',
    );
    say();
    say(
      table(
        [
          'target',
          'conns',
          'rep',
          'requests',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'CPU µs/req',
          'peak RSS',
          'steal %',
          'sock errs',
          'non-2xx',
        ],
        wrkRuns.map((r) => [
          r.target,
          String(r.connections),
          String(r.rep),
          int(r.requests),
          int(r.rps),
          ms3(r.p50),
          ms3(r.p90),
          ms3(r.p99),
          int(r.cpuUs),
          Number.isFinite(r.peakRssKiB) ? mb(r.peakRssKiB) : '—',
          stealCell(r.steal),
          String(r.errors),
          String(r.non2xx),
        ]),
      ),
    );
    say();
    const WRK_METRICS = ['rps', 'p50', 'p90', 'p99', 'cpuUs', 'peakRssKiB'] as const;
    const wrkSummary = CONNECTIONS.map((c) => {
      const agg = (target: TargetName) =>
        summarize(
          wrkRuns.filter((r) => r.connections === c && r.target === target),
          WRK_METRICS,
        );
      const direct = agg('direct');
      const rel = agg('relay');
      const floor = agg('floor');
      return {
        connections: c,
        direct,
        relay: rel,
        floor,
        relayPctOfDirect: (rel.rps / direct.rps) * 100,
        floorPctOfDirect: (floor.rps / direct.rps) * 100,
        addedMs: added(rel, direct, ['p50', 'p90', 'p99']),
        floorAddedMs: added(floor, direct, ['p50', 'p90', 'p99']),
      };
    });
    say(
      `Relay and floor against direct, mean of ${REPEATS} repetition(s) (peak RSS: the highest); ` +
        'added = target − direct. ' +
        'The floor (bench/floor-proxy.ts: Hono + undici pass-through, no auth, quota, usage row or ' +
        "log line, on the relay's core) is the least a relay on this stack can do:",
    );
    say();
    const rf = (relayV: string, floorV: string) => `${relayV} / ${floorV}`;
    say(
      table(
        [
          'conns',
          'direct req/s',
          'relay / floor req/s',
          '% of direct',
          'added p50 ms',
          'added p90 ms',
          'added p99 ms',
          'CPU µs/req',
          'relay peak RSS',
        ],
        wrkSummary.map((s) => [
          String(s.connections),
          int(s.direct.rps),
          rf(int(s.relay.rps), int(s.floor.rps)),
          rf(pc(s.relayPctOfDirect), pc(s.floorPctOfDirect)),
          rf(signed(s.addedMs.p50), signed(s.floorAddedMs.p50)),
          rf(signed(s.addedMs.p90), signed(s.floorAddedMs.p90)),
          rf(signed(s.addedMs.p99), signed(s.floorAddedMs.p99)),
          rf(int(s.relay.cpuUs), int(s.floor.cpuUs)),
          mb(s.relay.peakRssKiB),
        ]),
      ),
    );
    say();
    say('Spread = (max − min) / mean across repetitions; above ~10 % the machine was busy:');
    say();
    say(
      table(
        ['conns', 'target', 'spread req/s', 'spread p50', 'spread p99', 'spread CPU'],
        wrkSummary.flatMap((s) =>
          TARGET_NAMES.map((k) => [
            String(s.connections),
            k,
            pc(s[k].spread.rps),
            pc(s[k].spread.p50),
            pc(s[k].spread.p99),
            k === 'direct' ? '—' : pc(s[k].spread.cpuUs),
          ]),
        ),
      ),
    );
    say();
    const wrkErrors = wrkRuns.filter((r) => r.errors > 0 || r.non2xx > 0);
    if (wrkErrors.length > 0) {
      notes.push(
        `wrk reported errors or non-2xx in ${wrkErrors.length} run(s): ` +
          wrkErrors
            .map(
              (r) =>
                `${r.target} c=${r.connections} rep ${r.rep}: ${JSON.stringify(r.raw.errors)} non2xx=${r.non2xx}`,
            )
            .join('; '),
      );
    }
    results.nonStreaming = {
      runs: wrkRuns,
      summary: wrkSummary,
    };
    // --- Dialects: Messages in, pass-through and translated, against chat pass-through.
    if (DIALECTS) Object.assign(results, await dialectsSection(relay.base, otherCpu, relayPid));

    // --- Streaming chat with undici.
    for (const t of allTargets) {
      progress(`warm-up ${t.name} streams (${WARMUP_SECONDS} s)`);
      await streamLoad(t.base, t.auth, Math.max(...STREAMS), WARMUP_SECONDS);
    }
    interface StreamRun extends StreamLoad {
      target: TargetName;
      concurrency: number;
      rep: number;
      streamsPerSecond: number;
      cpuUs: number;
      peakRssKiB: number;
      steal: Steal;
    }
    const streamRuns: StreamRun[] = [];
    for (const c of STREAMS) {
      for (let rep = 1; rep <= REPEATS; rep++) {
        for (const t of allTargets) {
          progress(`stream ${t.name} c=${c} rep ${rep}`);
          const {
            value: r,
            cpuMs,
            peakRssKiB,
            steal,
            window,
          } = await watched(pidOf(t), layout, () => streamLoad(t.base, t.auth, c, SECONDS));
          if (t.name === 'relay') ownTimeWindows.push({ label: `stream, ${c} conc.`, window });
          streamRuns.push({
            target: t.name,
            concurrency: c,
            rep,
            streamsPerSecond: r.streams / r.seconds,
            cpuUs: r.streams > 0 ? (cpuMs * 1000) / (r.streams + r.failed) : NaN,
            peakRssKiB,
            steal,
            ...r,
          });
          if (r.failed > 0) {
            notes.push(`stream ${t.name} c=${c} rep ${rep}: ${r.failed} failed (${r.firstError})`);
          }
        }
      }
    }
    say(`## Streaming chat (undici client, ${CHUNKS} chunks, no gaps upstream)`);
    say();
    say(
      'TTFB = first body byte at the client; TTFT = first content token (the relay holds the ' +
        'stream until the first content, on purpose, so that it can still fail over: TTFT is ' +
        'what a user waits for); total = last byte.',
    );
    say();
    say(
      table(
        [
          'target',
          'conc',
          'rep',
          'done',
          'failed',
          'streams/s',
          'TTFB p50',
          'TTFT p50',
          'TTFT p99',
          'total p50',
          'total p99',
          'CPU µs/stream',
          'peak RSS',
          'steal %',
        ],
        streamRuns.map((r) => [
          r.target,
          String(r.concurrency),
          String(r.rep),
          int(r.streams),
          String(r.failed),
          int(r.streamsPerSecond),
          ms3(r.ttfbMs.p50),
          ms3(r.ttftMs.p50),
          ms3(r.ttftMs.p99),
          ms3(r.totalMs.p50),
          ms3(r.totalMs.p99),
          int(r.cpuUs),
          Number.isFinite(r.peakRssKiB) ? mb(r.peakRssKiB) : '—',
          stealCell(r.steal),
        ]),
      ),
    );
    say();
    const STREAM_METRICS = [
      'streamsPerSecond',
      'ttfbP50',
      'ttfbP99',
      'ttftP50',
      'ttftP99',
      'totalP50',
      'totalP99',
      'cpuUs',
      'peakRssKiB',
    ] as const;
    const streamSummary = STREAMS.map((c) => {
      const agg = (target: TargetName) =>
        summarize(
          streamRuns
            .filter((r) => r.concurrency === c && r.target === target)
            .map((r) => ({
              streamsPerSecond: r.streamsPerSecond,
              ttfbP50: r.ttfbMs.p50,
              ttfbP99: r.ttfbMs.p99,
              ttftP50: r.ttftMs.p50,
              ttftP99: r.ttftMs.p99,
              totalP50: r.totalMs.p50,
              totalP99: r.totalMs.p99,
              cpuUs: r.cpuUs,
              peakRssKiB: r.peakRssKiB,
            })),
          STREAM_METRICS,
        );
      const direct = agg('direct');
      const rel = agg('relay');
      const floor = agg('floor');
      const keys = ['ttfbP50', 'ttfbP99', 'ttftP50', 'ttftP99', 'totalP50', 'totalP99'] as const;
      return {
        concurrency: c,
        direct,
        relay: rel,
        floor,
        relayPctOfDirect: (rel.streamsPerSecond / direct.streamsPerSecond) * 100,
        floorPctOfDirect: (floor.streamsPerSecond / direct.streamsPerSecond) * 100,
        addedMs: added(rel, direct, keys),
        floorAddedMs: added(floor, direct, keys),
      };
    });
    say(
      `Relay and floor against direct, mean of ${REPEATS} repetition(s) (peak RSS: the highest); ` +
        'added = target − direct ' +
        '(spread of the relay’s streams/s and TTFT p50 across repetitions in brackets):',
    );
    say();
    say(
      table(
        [
          'streams',
          'direct streams/s',
          'relay / floor streams/s',
          'added TTFB p50 ms',
          'added TTFT p50 ms',
          'added TTFT p99 ms',
          'added total p50 ms',
          'CPU µs/stream',
          'relay peak RSS',
        ],
        streamSummary.map((s) => [
          String(s.concurrency),
          int(s.direct.streamsPerSecond),
          `${rf(int(s.relay.streamsPerSecond), int(s.floor.streamsPerSecond))} (${pc(s.relay.spread.streamsPerSecond)})`,
          rf(signed(s.addedMs.ttfbP50), signed(s.floorAddedMs.ttfbP50)),
          `${rf(signed(s.addedMs.ttftP50), signed(s.floorAddedMs.ttftP50))} (${pc(s.relay.spread.ttftP50)})`,
          rf(signed(s.addedMs.ttftP99), signed(s.floorAddedMs.ttftP99)),
          rf(signed(s.addedMs.totalP50), signed(s.floorAddedMs.totalP50)),
          rf(int(s.relay.cpuUs), int(s.floor.cpuUs)),
          mb(s.relay.peakRssKiB),
        ]),
      ),
    );
    say();
    await stopChild(floorProc);
    results.streaming = { runs: streamRuns, summary: streamSummary };

    // --- Chunk forwarding: 20 chunks 5 ms apart; does each reach the client on its own?
    progress('chunk forwarding check');
    const fwd = new Agent({ connections: 1 });
    const forwarding: Record<string, unknown> = {};
    say(`## Chunk forwarding (${CHUNKS} content chunks sent 5 ms apart)`);
    say();
    const fwdRows: string[][] = [];
    for (const t of [
      { name: 'direct', base: gap.base, auth: UPSTREAM_KEY, model: MODEL },
      { name: 'relay', base: relay.base, auth: CLIENT_KEY, model: 'bench-gap' },
    ]) {
      const s = await streamOnce(fwd, t.base, t.auth, t.model, true, 10_000);
      // Re-split the body per read to see which reads carried content tokens.
      let offset = 0;
      const contentReads: number[] = [];
      for (const [at, len] of s.reads) {
        const piece = s.text.slice(offset, offset + len);
        offset += len;
        if (/"content":"tok\d+ "/.test(piece)) contentReads.push(at);
      }
      const contentChunks = (s.text.match(/"content":"tok\d+ "/g) ?? []).length;
      const overMs = contentReads.length > 0 ? contentReads.at(-1)! - contentReads[0]! : 0;
      const pass = s.ok && contentChunks === CHUNKS && contentReads.length >= CHUNKS * 0.9;
      const line =
        `${contentChunks} content chunks arrived in ${contentReads.length} separate reads ` +
        `spread over ${overMs.toFixed(1)} ms (${s.reads.length} reads in all); ` +
        `TTFB ${ms3(s.ttfbMs)} ms, TTFT ${ms3(s.ttftMs)} ms`;
      fwdRows.push([t.name, line, pass ? 'PASS' : 'FAIL']);
      forwarding[t.name] = {
        ok: s.ok,
        error: s.error,
        contentChunks,
        contentReads: contentReads.length,
        reads: s.reads.length,
        spreadMs: overMs,
        ttfbMs: s.ttfbMs,
        ttftMs: s.ttftMs,
        readTimesMs: s.reads.map(([at]) => at),
        pass,
      };
    }
    await fwd.close();
    say(table(['target', 'result', 'expect ~20 reads'], fwdRows));
    say();
    results.chunkForwarding = forwarding;

    // --- Many open streams: RSS under 1,000 concurrent streams (~1.1 s each upstream).
    progress(`${OPEN_STREAMS} concurrent streams through the relay`);
    const relayBase = relay.base;
    const canCount = existsSync('/proc/net/tcp');
    const many = new Agent({ connections: OPEN_STREAMS + 10, keepAliveTimeout: 10_000 });
    let peakRss = rssKiB(relayPid);
    let peakUpstreamConns = 0;
    let tick = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssKiB(relayPid));
      if (tick++ % 4 === 0) {
        const n = connectionsTo(slow.port);
        if (Number.isFinite(n)) peakUpstreamConns = Math.max(peakUpstreamConns, n);
      }
    }, 50);
    const t0 = performance.now();
    const samples = await Promise.all(
      Array.from({ length: OPEN_STREAMS }, () =>
        streamOnce(many, relayBase, CLIENT_KEY, 'bench-slow', false, 120_000),
      ),
    );
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssKiB(relayPid));
    await many.close();
    const completed = samples.filter((s) => s.ok);
    const dropped = samples.length - completed.length;
    const totals = ascending(completed.map((s) => s.totalMs));
    const ttfbs = ascending(completed.map((s) => s.ttfbMs));
    const errorKinds = new Map<string, number>();
    for (const s of samples.filter((x) => !x.ok)) {
      const k = (s.error ?? 'unknown').slice(0, 120);
      errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
    }
    await sleep(500);
    const rssAfterStreams = rssKiB(relayPid);
    const queued = canCount && peakUpstreamConns < OPEN_STREAMS;

    say(`## Relay memory (RSS) and ${OPEN_STREAMS} concurrent open streams`);
    say();
    say(
      table(
        ['what', 'value'],
        [
          ['RSS after start-up', mb(rssAfterStart)],
          ['RSS idle after warm-up', mb(rssIdle)],
          ['RSS after the non-streaming runs', mb(rssAfterLoad)],
          [`RSS peak, ${OPEN_STREAMS} concurrent streams (sampled every 50 ms)`, mb(peakRss)],
          ['RSS 0.5 s after they ended', mb(rssAfterStreams)],
          [
            'streams completed with [DONE]',
            `${completed.length} of ${OPEN_STREAMS} (${dropped} dropped)`,
          ],
          [
            'wall time for all streams',
            `${ms3(wallMs)} ms (one stream alone: ~${(CHUNKS + 2) * 50} ms upstream)`,
          ],
          ['client TTFB p50 / p99', `${ms3(pct(ttfbs, 50))} / ${ms3(pct(ttfbs, 99))} ms`],
          ['client total p50 / p99', `${ms3(pct(totals, 50))} / ${ms3(pct(totals, 99))} ms`],
          [
            'peak relay → upstream connections',
            canCount ? String(peakUpstreamConns) : 'n/a (no /proc/net/tcp)',
          ],
        ],
      ),
    );
    say();
    if (queued) {
      const line =
        `The relay held at most ${peakUpstreamConns} upstream connections at once: the others ` +
        `had not started yet or had already ended (server.upstreamConnections caps this, 1024 ` +
        `per origin by default; past the cap, streams wait in the relay).`;
      say(line);
      say();
    }
    if (dropped > 0) {
      notes.push(
        `${dropped} of ${OPEN_STREAMS} open streams did not complete: ` +
          [...errorKinds].map(([k, n]) => `${n}× ${k}`).join('; '),
      );
    }
    results.openStreams = {
      count: OPEN_STREAMS,
      completed: completed.length,
      dropped,
      errors: Object.fromEntries(errorKinds),
      wallMs,
      ttfbMs: { p50: pct(ttfbs, 50), p99: pct(ttfbs, 99) },
      totalMs: { p50: pct(totals, 50), p99: pct(totals, 99) },
      peakUpstreamConnections: peakUpstreamConns,
    };
    results.rssKiB = {
      afterStart: rssAfterStart,
      idle: rssIdle,
      afterNonStreaming: rssAfterLoad,
      peakOpenStreams: peakRss,
      afterOpenStreams: rssAfterStreams,
    };

    // --- The relay's own log: one line per request; warnings and errors are worth a look.
    await stopChild(relay.proc);
    const {
      levels,
      lines: logLines,
      requestLines,
      clientClosed,
      sample,
      relayMs,
    } = await summarizeRelayLog(
      logPath,
      ownTimeWindows.map((w) => w.window),
    );
    ownTimeSection(ownTimeWindows, relayMs, results);
    const warn = levels.get('warn') ?? 0;
    const error = (levels.get('error') ?? 0) + (levels.get('fatal') ?? 0);
    const logBytes = statSync(logPath).size;
    // Nothing lost under load: one usage row per request the relay answered, one log line each.
    const db = new DatabaseSync(join(dataDir, 'relay.db'), { readOnly: true });
    const usageRows = (db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n;
    const heldMicros = (
      db.prepare('SELECT COALESCE(SUM(reserved_micros), 0) AS n FROM keys').get() as { n: number }
    ).n;
    db.close();
    results.relayLog = { bytes: logBytes, lines: logLines, warn, error, requestLines };
    results.usage = { rows: usageRows, heldMicrosAfterStop: heldMicros };
    if (usageRows !== requestLines) {
      notes.push(`usage rows (${usageRows}) and request log lines (${requestLines}) differ`);
    }
    if (heldMicros !== 0) notes.push(`quota still held after the relay stopped: ${heldMicros} µ$`);
    if (warn + error > 0) {
      notes.push(
        `relay log has ${warn} warn and ${error} error lines, e.g.:\n${sample.join('\n')}`,
      );
    }

    say('## Notes');
    say();
    say(
      `- relay log: ${int(logLines)} lines, ${int(logBytes)} bytes (${int(logBytes / logLines)} per line), ` +
        `${warn} warn (${clientClosed} of them 499: the load generator hanging up mid-request ` +
        `as a run ends), ${error} error`,
    );
    say(
      `- usage rows: ${int(usageRows)}, request log lines: ${int(requestLines)}` +
        `${usageRows === requestLines ? ' (one row per request)' : ' (DIFFERENT)'}; ` +
        `quota still held after stop: ${heldMicros} µ$`,
    );
    const loadEnd = Number(os.loadavg()[0]!.toFixed(2));
    results.loadAverageAtEnd = loadEnd;
    say(`- load average (1 min) at the end: ${loadEnd}`);
    // The relay's and the floor's runs: in the direct ones the relay's core sits idle.
    const steals = [...wrkRuns, ...streamRuns].filter((r) => r.target !== 'direct');
    const meanSteal = (k: keyof Steal) => {
      const known = steals.map((r) => r.steal[k]).filter(Number.isFinite);
      return known.length > 0 ? mean(known) : NaN;
    };
    const stealMean = { relayCore: meanSteal('relayCore'), otherCore: meanSteal('otherCore') };
    results.stealPctMean = stealMean;
    if (Number.isFinite(stealMean.relayCore)) {
      const where = Number.isFinite(stealMean.otherCore)
        ? `${stealMean.relayCore.toFixed(1)} % of the relay's core, ` +
          `${stealMean.otherCore.toFixed(1)} % of the load's`
        : `${stealMean.relayCore.toFixed(1)} % of all CPUs`;
      say(`- hypervisor steal, mean over the relay's and the floor's runs: ${where}`);
    }
    for (const n of notes) say(`- ${n}`);
    results.notes = notes;
  } finally {
    progress('stopping processes');
    if (relay) await stopChild(relay.proc);
    await Promise.all(upstreams.map((u) => stopChild(u.proc)));
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const totalS = (performance.now() - began) / 1000;
  results.totalSeconds = totalS;
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${info.date.replace(/:/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  say();
  say(`Total ${totalS.toFixed(1)} s. Full results: ${relative(REPO_ROOT, file)}`);
}

await main();
