/**
 * Soak: `npm run soak` (not part of `npm test`). A bounded load-and-faults run on loopback:
 * the relay as `npm start` runs it (its own process, SQLite, info logs), two upstream channels
 * that both serve a healthy model with everyday faults (500s, 429 with Retry-After, resets,
 * streams that drop before or after content), a slow model and a flaky one whose every stream
 * drops; a channel nobody listens on (refused connections) as the healthy model's fallback, and
 * a model only it and a channel with a rejected key serve (channel circuits, dead keys, panic
 * routing); clients that mix JSON, streams and hang-ups at random points.
 *
 * At the end it reports requests by outcome, 5xx by cause (as clients heard them and as the
 * usage rows say), the relay's RSS over time, upstream requests left open, circuits, and usage
 * rows against requests. Exit code 1 when something was lost or left open, or a client got
 * what it must never get (see Broken in soak-client.ts).
 *
 * Env: SOAK_SECONDS (default 120), SOAK_CLIENTS (concurrent clients, default 24),
 * SOAK_MAX_REQUESTS (default 500,000), SOAK_DEADLINE_SECONDS (per request, default 60),
 * SOAK_SEED (default 17), SOAK_SAMPLE_SECONDS (RSS sample interval, default 10), SOAK_KEEP=1
 * (keep the relay's log and database for a look afterwards).
 * See bench/README.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Agent } from 'undici';
import { startFaultUpstream, type FaultUpstream } from '../test/fixtures/fault-upstream.ts';
import { freePort, spawnRelay, type RelayProcess } from '../test/fixtures/relay-process.ts';
import { seededRandom } from '../test/fixtures/seeded-random.ts';
import { sendOnce, type Broken } from './soak-client.ts';
import {
  CHAT_MODEL,
  DEAD_KEY_STEP,
  DOWN_MODEL,
  SOAK_MODELS,
  clientRequest,
  upstreamStep,
} from './soak-mix.ts';

const CLIENT_KEY = 'sk-soak-client-0123456789abcdef';
/** Every circuit in detail is the admin API's; /healthz only summarises them. */
const ADMIN_KEY = 'admin-soak-0123456789abcdef';

function envInt(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > max) {
    throw new Error(`${name} must be a whole number from 1 to ${max}`);
  }
  return n;
}

const SECONDS = envInt('SOAK_SECONDS', 120, 600);
const CLIENTS = envInt('SOAK_CLIENTS', 24, 500);
const MAX_REQUESTS = envInt('SOAK_MAX_REQUESTS', 500_000, 10_000_000);
const DEADLINE_MS = envInt('SOAK_DEADLINE_SECONDS', 60, 600) * 1000;
const SEED = envInt('SOAK_SEED', 17, 2 ** 31);
const SAMPLE_MS = envInt('SOAK_SAMPLE_SECONDS', 10, 600) * 1000;

const say = (line = '') => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const int = (n: number) => n.toLocaleString('en-US');

function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function countBy(into: Map<string, number>, key: string): void {
  into.set(key, (into.get(key) ?? 0) + 1);
}

const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);

/** Resident set size in MB (Linux /proc; NaN elsewhere). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Upstreams {
  readonly a: FaultUpstream;
  readonly b: FaultUpstream;
  /** Answers every request with a 401: the channel's key is rejected. */
  readonly deadKey: FaultUpstream;
}

async function startRelay(ups: Upstreams, logFile: string): Promise<RelayProcess> {
  const timeouts = { connectMs: 2_000, firstByteMs: 10_000, idleMs: 5_000 };
  const channel = (name: string, baseUrl: string, models: string[], priority = 0) => ({
    name,
    baseUrl,
    apiKey: `sk-soak-upstream-${name}`,
    models,
    priority,
    timeouts,
  });
  // A port nobody listens on: every connection to it is refused.
  const refused = `http://127.0.0.1:${await freePort()}/v1`;
  return spawnRelay({
    config: {
      // A budget well inside the clients' deadline: the relay must answer before they give up.
      server: { heartbeatMs: 5_000, requestBudgetMs: 20_000 },
      channels: [
        channel('A', ups.a.baseUrl, SOAK_MODELS),
        channel('B', ups.b.baseUrl, SOAK_MODELS),
        channel('refused', refused, [CHAT_MODEL, DOWN_MODEL], 1),
        channel('dead-key', ups.deadKey.baseUrl, [DOWN_MODEL], 1),
      ],
      // A quota, so every request holds and settles it as a paying key does.
      keys: [{ name: 'soak', key: CLIENT_KEY, quota: 1_000_000 }],
      admin: { keys: [{ name: 'soak', key: ADMIN_KEY }] },
      prices: Object.fromEntries(SOAK_MODELS.map((m) => [m, { input: 1, output: 2 }])),
    },
    logFile,
  });
}

interface Load {
  sent: number;
  outcomes: Map<string, number>;
  serverErrors: Map<string, number>;
  broken: Map<Broken, number>;
  healthyRefused: number;
}

async function drive(relay: RelayProcess, until: number, load: Load): Promise<void> {
  const random = seededRandom(SEED);
  const dispatcher = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
  const client = async () => {
    while (Date.now() < until && load.sent < MAX_REQUESTS) {
      const req = clientRequest(random);
      load.sent++;
      const outcome = await sendOnce(dispatcher, relay.baseUrl, CLIENT_KEY, req, DEADLINE_MS);
      countBy(load.outcomes, `${req.model} ${outcome.label}`);
      if (outcome.serverError) countBy(load.serverErrors, outcome.serverError);
      if (outcome.broken) countBy(load.broken, outcome.broken);
      if (req.model === CHAT_MODEL && outcome.label.includes(' 503 ')) load.healthyRefused++;
    }
  };
  try {
    await Promise.all(Array.from({ length: CLIENTS }, client));
  } finally {
    await dispatcher.close();
  }
}

interface UsageSummary {
  rows: number;
  /** Access-log lines for the chat endpoint: every request the relay received. */
  logLines: number;
  /** Attempts that passed an open channel circuit (the relay's `panic attempt` lines). */
  panicAttempts: number;
  byCause: [string, number][];
  held: number;
}

function readUsage(dataDir: string, logFile: string): UsageSummary {
  const lines = readFileSync(logFile, 'utf8').split('\n');
  const logLines = lines.filter(
    (l) => l.includes('"msg":"request"') && l.includes('"path":"/v1/chat/completions"'),
  ).length;
  const panicAttempts = lines.filter((l) => l.includes('"msg":"panic attempt"')).length;
  const db = new DatabaseSync(join(dataDir, 'relay.db'), { readOnly: true });
  try {
    const { rows } = db
      .prepare(`SELECT count(*) AS rows FROM usage WHERE endpoint = '/chat/completions'`)
      .get() as { rows: number };
    const byCause = db
      .prepare(
        `SELECT status || ' ' || coalesce(error_code, '-') AS cause, count(*) AS n FROM usage
         WHERE status >= 500 GROUP BY cause ORDER BY n DESC`,
      )
      .all() as { cause: string; n: number }[];
    const { held } = db.prepare(`SELECT sum(reserved_micros) AS held FROM keys`).get() as {
      held: number;
    };
    return { rows, logLines, panicAttempts, byCause: byCause.map((r) => [r.cause, r.n]), held };
  } finally {
    db.close();
  }
}

interface Health {
  status: string;
  circuits: {
    channel: string;
    model: string | null;
    state: string;
    cause: string | null;
    callsInWindow: number;
    failuresInWindow: number;
  }[];
}

async function health(relay: RelayProcess): Promise<Health> {
  const { status } = (await (await fetch(`${relay.baseUrl}/healthz`)).json()) as Health;
  const res = await fetch(`${relay.baseUrl}/admin/api/channels`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const { channels } = (await res.json()) as { channels: { circuits: Health['circuits'] }[] };
  return { status, circuits: channels.flatMap((c) => c.circuits) };
}

async function main(): Promise<void> {
  const began = Date.now();
  const random = seededRandom(SEED ^ 0x5eed);
  const [a, b, deadKey] = await Promise.all([
    startFaultUpstream({ record: false }),
    startFaultUpstream({ record: false }),
    startFaultUpstream({ record: false }),
  ]);
  for (const up of [a, b]) up.setPicker((body) => upstreamStep(body, random));
  deadKey.setDefault(DEAD_KEY_STEP);
  const ups = [a, b, deadKey];
  const openResponses = () => ups.reduce((n, up) => n + up.openResponses(), 0);
  const logDir = mkdtempSync(join(tmpdir(), 'llm-relay-soak-'));
  const logFile = join(logDir, 'relay.log');
  const relay = await startRelay({ a, b, deadKey }, logFile);
  // Ctrl-C must not leave the relay running behind us.
  const onSignal = () => {
    relay.proc.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const load: Load = {
    sent: 0,
    outcomes: new Map(),
    serverErrors: new Map(),
    broken: new Map(),
    healthyRefused: 0,
  };
  const rss: (string | number)[][] = [];
  const sample = () =>
    rss.push([
      `${Math.round((Date.now() - began) / 1000)} s`,
      rssMb(relay.proc.pid!).toFixed(1),
      int(load.sent),
      openResponses(),
    ]);
  progress(
    `${SECONDS} s (at most ${int(MAX_REQUESTS)} requests, ${DEADLINE_MS / 1000} s each), ` +
      `${CLIENTS} clients, seed ${SEED}; relay pid ${relay.proc.pid}`,
  );
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  let end: Health;
  let leftOpen: number;
  try {
    await drive(relay, Date.now() + SECONDS * 1000, load);
    sample();
    // Every client has its answer; the relay has had its chance to close what it opened.
    await sleep(2_000);
    leftOpen = openResponses();
    end = await health(relay);
  } finally {
    clearInterval(sampler);
    relay.proc.kill('SIGTERM');
    await relay.exited;
    await Promise.all(ups.map((up) => up.close()));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const usage = readUsage(relay.dataDir, logFile);
  if (process.env.SOAK_KEEP !== '1') {
    for (const dir of [logDir, relay.dataDir]) rmSync(dir, { recursive: true, force: true });
  } else progress(`kept ${logFile} and ${relay.dataDir}`);
  report(load, rss, leftOpen, usage, end, (Date.now() - began) / 1000);
  const lost = usage.rows !== usage.logLines || usage.held !== 0 || leftOpen > 0;
  if (lost || load.healthyRefused > 0 || load.broken.size > 0) process.exitCode = 1;
}

const BROKEN: readonly Broken[] = [
  'stream cut',
  'transport error',
  'deadline exceeded',
  '503 without Retry-After',
];

function report(
  load: Load,
  rss: (string | number)[][],
  leftOpen: number,
  usage: UsageSummary,
  end: Health,
  seconds: number,
): void {
  say(`# Soak: ${SECONDS} s, ${CLIENTS} concurrent clients, seed ${SEED}`);
  if (load.sent >= MAX_REQUESTS) say(`\nStopped at the request cap (${int(MAX_REQUESTS)}).`);
  say();
  say('## Requests by outcome (as clients saw them)');
  say();
  say(
    table(
      ['model and outcome', 'requests'],
      sorted(load.outcomes).map(([k, n]) => [k, int(n)]),
    ),
  );
  say();
  say('## 5xx by cause');
  say();
  say(
    table(
      ['as clients heard it', 'requests'],
      sorted(load.serverErrors).map(([k, n]) => [k, int(n)]),
    ),
  );
  say();
  say(
    table(
      ['usage row status and code', 'rows'],
      usage.byCause.map(([k, n]) => [k, int(n)]),
    ),
  );
  say();
  say('## Relay RSS over time');
  say();
  say(table(['time', 'RSS MB', 'requests sent', 'upstream responses open'], rss));
  say();
  say('## Nothing lost');
  say();
  say(
    `- requests sent: ${int(load.sent)}; received (access-log lines): ${int(usage.logLines)}; ` +
      `usage rows: ${int(usage.rows)}`,
  );
  say(`- quota still held after stop: ${usage.held} µ$`);
  say(`- upstream requests left open 2 s after the last answer: ${leftOpen}`);
  say(`- ${CHAT_MODEL} requests refused with 503: ${load.healthyRefused}`);
  for (const broken of BROKEN) say(`- ${broken}: ${int(load.broken.get(broken) ?? 0)}`);
  say(`- panic attempts (relay log): ${int(usage.panicAttempts)}`);
  say(`- total time: ${seconds.toFixed(1)} s`);
  say();
  say(`## Circuits at the end (/healthz: \`${end.status}\`)`);
  say();
  say(
    table(
      ['channel', 'model', 'state', 'cause', 'calls in window', 'failures in window'],
      end.circuits.map((c) => [
        c.channel,
        c.model ?? '(channel)',
        c.state,
        c.cause ?? '',
        int(c.callsInWindow),
        int(c.failuresInWindow),
      ]),
    ),
  );
}

await main();
