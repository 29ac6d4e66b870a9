/**
 * `npm run bench:instructions`: the relay's cost per request counted in instructions, not timed.
 * The relay (the shipped bundle, with its Node flags) and the floor (bench/floor-proxy.ts) each
 * run under valgrind's callgrind with counting off; after a warm-up long enough for V8 to have
 * compiled the hot path, counting is switched on for windows of a fixed number of chat requests,
 * each dumped on its own, then off again. bench/README.md says why and how far to trust it.
 *
 * Needs valgrind (apt-get install valgrind). Takes ~5 minutes. Env: BENCH_IR_WARMUP (40000
 * requests), BENCH_IR_WINDOWS (5), BENCH_IR_REQUESTS (2000 a window), BENCH_IR_CONNECTIONS (10),
 * BENCH_IR_FLOOR=0 (skip the floor), BENCH_RELAY_ARGS (extra node flags for the relay, as for
 * `npm run bench`), BENCH_IR_KEEP (a folder to keep each target's callgrind files in, for `node
 * bench/callgrind-top.ts`; both targets then run with --perf-basic-prof, so that V8's map of its
 * JIT code names their JavaScript), BENCH_IR_REFUSED=unknown-key|scan|no-key|bad-body (count the
 * relay's 401 to one unknown key, to a new one each request, or to none, or its 400 to a body its
 * schema refuses, instead of a chat answer; the floor, which checks neither, is skipped),
 * BENCH_IR_STREAM=1 (ask for streamed answers), BENCH_IR_MESSAGES=1 (Anthropic's Messages
 * passed through to the same upstream in that dialect, the relay alone). Run nothing else
 * meanwhile: a slower run keeps V8 compiling longer.
 */
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { RELAY_NODE_FLAGS } from '../app/src/node-flags.ts';
import { buildRelay } from '../scripts/build-relay.ts';
import { parseCallgrindPart, perWindow } from './callgrind.ts';
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
import type { WindowCount } from './callgrind.ts';
import { envInt } from './env.ts';
import { median } from './stats.ts';
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

const BENCH_DIR = import.meta.dirname;

const WARMUP = envInt('BENCH_IR_WARMUP', 40_000);
const WINDOWS = envInt('BENCH_IR_WINDOWS', 5);
const PER_WINDOW = envInt('BENCH_IR_REQUESTS', 2_000);
const CONNECTIONS = envInt('BENCH_IR_CONNECTIONS', 10);
const RELAY_ARGS = (process.env.BENCH_RELAY_ARGS ?? '').split(' ').filter(Boolean);
const KEEP = process.env.BENCH_IR_KEEP;
/** V8 writes /tmp/perf-<pid>.map as it makes code: ~1.5 % more (the relay 354.1 → 358.6 k). */
const PROFILE_ARGS = KEEP ? ['--perf-basic-prof'] : [];

/** What the counted requests send (their key and body), and the status they must get. */
interface Counted {
  readonly auth?: () => string;
  readonly body: string;
  readonly status: number;
}
const KEYED = `Bearer ${CLIENT_KEY}`;
/** Streamed answers (20 content chunks from the bench's upstream), read whole. */
const STREAM = process.env.BENCH_IR_STREAM === '1';
/** Anthropic's Messages, passed through to an upstream of that dialect, instead of chat. */
const MESSAGES = process.env.BENCH_IR_MESSAGES === '1';
const MESSAGES_MODEL = 'claude-bench';
const CHAT = MESSAGES
  ? JSON.stringify({
      model: MESSAGES_MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Say hello.' }],
      ...(STREAM && { stream: true }),
    })
  : chatBody(MODEL, STREAM);
const REQUEST_PATH = MESSAGES ? '/v1/messages' : '/v1/chat/completions';
/** How a whole streamed answer ends: OpenAI's [DONE], or Anthropic's message_stop. */
const STREAM_END = MESSAGES ? /"type":"message_stop"}\n\n$/ : /data: \[DONE\]\n\n$/;
let guesses = 0;
const REFUSALS: Readonly<Record<string, Counted>> = {
  'unknown-key': { auth: () => 'Bearer sk-bench-unknown-0123456789', body: CHAT, status: 401 },
  scan: { auth: () => `Bearer sk-bench-guess-${++guesses}-0123456789`, body: CHAT, status: 401 },
  'no-key': { body: CHAT, status: 401 },
  'bad-body': {
    auth: () => KEYED,
    body: JSON.stringify({ model: MODEL, messages: 'hi' }),
    status: 400,
  },
};
const REFUSED = process.env.BENCH_IR_REFUSED || undefined;
if ((STREAM || MESSAGES) && REFUSED)
  failWith('BENCH_IR_REFUSED goes with neither BENCH_IR_STREAM nor BENCH_IR_MESSAGES');
const REQUEST: Counted =
  REFUSED === undefined
    ? { auth: () => KEYED, body: CHAT, status: 200 }
    : Object.hasOwn(REFUSALS, REFUSED)
      ? REFUSALS[REFUSED]!
      : failWith(`BENCH_IR_REFUSED must be one of ${Object.keys(REFUSALS).join(', ')}`);

function failWith(message: string): never {
  throw new Error(message);
}

/**
 * The group commit closes its batch after COMMIT_WINDOW_MS or 64 rows. Under callgrind the relay
 * answers ~150 requests a second, so 10 ms would hold one or two rows, not the tens (up to 64) of
 * a real load at 10 connections, and each row would carry most of a commit. A window longer than
 * 64 rows take here gives batches of 64.
 */
function stretchCommitWindow(outdir: string): void {
  const from = /\bCOMMIT_WINDOW_MS=10\b/g;
  const files = readdirSync(outdir)
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => ({ file: join(outdir, f), text: readFileSync(join(outdir, f), 'utf8') }));
  const hits = files.reduce((n, f) => n + (f.text.match(from)?.length ?? 0), 0);
  if (hits !== 1) throw new Error(`expected ${from} once in the bundle, found it ${hits} times`);
  const hit = files.find((f) => f.text.match(from))!;
  writeFileSync(hit.file, hit.text.replace(from, 'COMMIT_WINDOW_MS=5000'));
}

interface Target {
  name: string;
  args: string[];
  env: Record<string, string>;
  /** Where its stdout goes: a pipe to read its port from, or a log file as in production. */
  stdout: 'pipe' | number;
  /** The port once it answers. */
  ready: (proc: ChildProcess) => Promise<number>;
}

/** `n` requests over `pool`'s connections, every one answered REQUEST.status. */
async function load(pool: Pool, n: number): Promise<void> {
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      const res = await pool.request({
        path: REQUEST_PATH,
        method: 'POST',
        body: REQUEST.body,
        headers: {
          'content-type': 'application/json',
          ...(REQUEST.auth && { authorization: REQUEST.auth() }),
        },
      });
      const text = await res.body.text();
      if (res.statusCode !== REQUEST.status)
        throw new Error(`answered ${res.statusCode}: ${text.slice(0, 200)}`);
      // A stream cut short (an error event after its 200) would count as a cheap one.
      if (STREAM && !STREAM_END.test(text))
        throw new Error(`a stream did not end as a whole one does: ${text.slice(-200)}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
}

/** One target under callgrind: warm-up uncounted, then WINDOWS dumps of PER_WINDOW requests. */
async function measure(target: Target, dir: string): Promise<WindowCount[]> {
  const out = join(dir, `callgrind-${target.name}`);
  mkdirSync(out);
  // vgdb (callgrind_control) finds the process by user and host names taken from the env.
  const env = { PATH: process.env.PATH ?? '', USER: 'bench', HOST: '127.0.0.1', ...target.env };
  const proc = spawnTracked(
    null,
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      // V8 writes machine code into the heap at run time.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${join(out, 'callgrind.out')}`,
      process.execPath,
      ...target.args,
    ],
    { env, stdio: ['ignore', target.stdout, 'pipe'] },
  );
  if (typeof target.stdout === 'number') closeSync(target.stdout);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-4000)));
  let pool: Pool | undefined;
  try {
    const port = await target.ready(proc);
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS });
    progress(`${target.name}: ${WARMUP} requests to warm up`);
    await load(pool, WARMUP);
    const control = (arg: string) => {
      const r = spawnSync('callgrind_control', [arg, String(proc.pid)], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`callgrind_control ${arg}: ${r.stderr || r.stdout}`);
    };
    control('--instr=on');
    for (let w = 1; w <= WINDOWS; w++) {
      progress(`${target.name}: window ${w}/${WINDOWS}, ${PER_WINDOW} requests counted`);
      await load(pool, PER_WINDOW);
      control('--dump');
    }
    control('--instr=off');
  } catch (err) {
    throw new Error(`${target.name}: ${(err as Error).message}\n${stderr}`, { cause: err });
  } finally {
    await pool?.close();
    await stopChild(proc);
  }
  if (KEEP) keep(target.name, out, proc.pid);
  // Only the windows' dumps (callgrind.out.<part>-<thread>): the exit's, cut short by a SIGKILL
  // if the stop takes long, could be half written. The file the flag names stays empty.
  const parts = readdirSync(out)
    .filter((f) => Number(/^callgrind\.out\.(\d+)-\d+$/.exec(f)?.[1]) <= WINDOWS)
    .map((f) => parseCallgrindPart(readFileSync(join(out, f), 'utf8')));
  return perWindow(parts, WINDOWS, PER_WINDOW);
}

/**
 * Copies a target's callgrind files to BENCH_IR_KEEP/<target>, and moves V8's map of its JIT code
 * there (valgrind runs node in its own process, so the pid is the one spawned), for
 * bench/callgrind-top.ts to name the functions in.
 */
function keep(name: string, out: string, pid: number | undefined): void {
  const to = join(KEEP!, name);
  mkdirSync(to, { recursive: true });
  cpSync(out, to, { recursive: true });
  const map = `/tmp/perf-${pid}.map`;
  if (pid !== undefined && existsSync(map)) {
    cpSync(map, join(to, 'perf.map'));
    rmSync(map);
  }
  progress(`${name}: callgrind files kept in ${to}`);
}

const progress = (s: string) => process.stderr.write(`  … ${s}\n`);
const say = (s = '') => process.stdout.write(`${s}\n`);
const k = (n: number) => `${(n / 1000).toFixed(1)} k`;

async function main(): Promise<void> {
  for (const cmd of ['valgrind', 'callgrind_control']) {
    if (!onPath(cmd)) {
      process.stderr.write(`${cmd} not found: apt-get install valgrind\n`);
      process.exit(2);
    }
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'relay-ir-'));
  const onSignal = () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress('building the relay bundle');
    const outdir = join(dir, 'relay');
    await buildRelay({ outdir });
    stretchCommitWindow(outdir);
    const upstream = spawnTracked(null, process.execPath, [join(BENCH_DIR, 'upstream.ts')], {
      env: { PATH: process.env.PATH, BENCH_UPSTREAM_KEY: UPSTREAM_KEY },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const upPort = await portFromStdout(upstream, 'upstream');
    upstream.stdout!.resume();
    const base = `http://127.0.0.1:${upPort}/v1`;
    const relay = await relayTarget(dir, outdir, base);
    const targets = [relay];
    // The floor passes chat on and checks no key.
    if (process.env.BENCH_IR_FLOOR !== '0' && !REFUSED && !MESSAGES)
      targets.push(floorTarget(base));
    const results: Record<string, WindowCount[]> = {};
    for (const t of targets) results[t.name] = await measure(t, dir);
    report(results);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each target's windows: the median is the steady request, the range shows the rare events. */
function report(results: Record<string, WindowCount[]>): void {
  const mid = (ws: WindowCount[], f: keyof WindowCount) => median(ws.map((w) => w[f]));
  const range = (ws: WindowCount[], f: keyof WindowCount) =>
    `${k(Math.min(...ws.map((w) => w[f])))}–${k(Math.max(...ws.map((w) => w[f])))}`;
  say(`# Instructions per request (callgrind), ${new Date().toISOString()}`);
  say();
  say(
    `Node ${process.version}, ${CONNECTIONS} connections, ` +
      `${MESSAGES ? 'Messages passed through, ' : ''}${STREAM ? 'streamed answers, ' : ''}` +
      `${REFUSED ? `requests refused (${REFUSED}), ` : ''}` +
      `${WARMUP} requests to warm up, then ` +
      `${WINDOWS} windows of ${PER_WINDOW} counted; relay flags: ` +
      `${[...RELAY_NODE_FLAGS, ...RELAY_ARGS, ...PROFILE_ARGS].join(' ')}`,
  );
  say();
  const rows = Object.entries(results).map(([name, ws]) => [
    name,
    k(mid(ws, 'main')),
    range(ws, 'main'),
    k(mid(ws, 'others')),
    k(mid(ws, 'total')),
    range(ws, 'total'),
  ]);
  say(
    table(
      ['target', 'main thread', 'main, windows', 'other threads', 'all threads', 'all, windows'],
      rows,
    ),
  );
  say();
  for (const [name, ws] of Object.entries(results)) {
    say(`- ${name}, main thread by window: ${ws.map((w) => k(w.main)).join(', ')}`);
  }
  const relay = results.relay;
  const floor = results.floor;
  if (relay && floor) {
    say();
    say(
      `The relay's own work: ${k(mid(relay, 'main') - mid(floor, 'main'))} instructions a ` +
        `request on its main thread; ${(mid(relay, 'total') / mid(floor, 'total')).toFixed(2)}× ` +
        `the floor's instructions over all threads.`,
    );
  }
  say();
  say(
    'Medians over the windows. A window with a full garbage collection (one every ~10,000 ' +
      'requests) counts several per cent more, on the main thread and on the helpers that mark; ' +
      'the other threads are also V8 compiling what got hot late and SQLite checkpoints.',
  );
}

async function relayTarget(dir: string, outdir: string, base: string): Promise<Target> {
  const config = {
    channels: [
      {
        name: 'fast',
        type: 'openai',
        baseUrl: base,
        apiKey: 'env:BENCH_UPSTREAM_KEY',
        models: [MODEL],
      },
      // The same upstream in Anthropic's Messages (BENCH_IR_MESSAGES).
      {
        name: 'fast-messages',
        type: 'anthropic',
        baseUrl: base,
        apiKey: 'env:BENCH_UPSTREAM_KEY',
        models: [MESSAGES_MODEL],
      },
    ],
    keys: [CLIENT_KEY_CONFIG],
    prices: { [MODEL]: PRICE, [MESSAGES_MODEL]: PRICE },
  };
  const configPath = join(dir, 'relay.config.json');
  writeFileSync(configPath, JSON.stringify(config));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  return {
    name: 'relay',
    args: [...RELAY_NODE_FLAGS, ...RELAY_ARGS, ...PROFILE_ARGS, join(outdir, 'server.mjs')],
    env: relayEnv(configPath, join(dir, 'data'), port),
    // Its log goes to a file, as in production (pipes get a write per line).
    stdout: openSync(join(dir, 'relay.log'), 'a'),
    // Under valgrind it takes seconds to start, and its first answers are slow.
    ready: async (proc) => {
      const what = 'the relay under valgrind';
      await waitHealthy(proc, port, { timeoutMs: 120_000, everyMs: 250, tryMs: 10_000, what });
      return port;
    },
  };
}

function floorTarget(base: string): Target {
  return {
    name: 'floor',
    args: [...RELAY_NODE_FLAGS, ...PROFILE_ARGS, join(BENCH_DIR, 'floor-proxy.ts')],
    env: floorEnv(base),
    stdout: 'pipe',
    ready: (proc) => portFromStdout(proc, 'floor', 120_000),
  };
}

await main();
