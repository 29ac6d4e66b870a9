/**
 * `server.workers: 2`: the real entry point as a child process, a cluster primary with two
 * workers sharing the port, against a loopback upstream. Quota and rate limits are one budget
 * for the whole relay, not one per worker, and a worker that dies is replaced.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const UPSTREAM_KEY = 'sk-upstream-cluster-1';
const QUOTA_KEY = 'sk-cluster-quota-0123456789';
const RPM_KEY = 'sk-cluster-rpm-0123456789ab';
/** $0.0001 a request against a $0.002 quota: exactly 20 requests fit, whichever worker takes them. */
const REQUEST_PRICE_USD = 0.0001;
const QUOTA_USD = 0.002;
const FITS = 20;

interface LogLine {
  msg?: string;
  worker?: number;
  role?: string;
  requestId?: string;
  status?: number;
  pid?: number;
}

const logLines = (relay: RelayProcess): LogLine[] =>
  relay.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

/** The access-log line of each request (the one with a status), by request id. */
function workerOf(relay: RelayProcess): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  for (const l of logLines(relay)) {
    if (l.requestId && l.status !== undefined) out.set(l.requestId, l.worker);
  }
  return out;
}

async function chat(relay: RelayProcess, key: string) {
  const res = await fetch(`${relay.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return {
    status: res.status,
    code: body.error?.code,
    requestId: res.headers.get('x-request-id')!,
  };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a relay with two workers', () => {
  let upstream: FakeUpstream;
  let relay: RelayProcess;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: UPSTREAM_KEY });
    relay = await spawnRelay({
      config: {
        server: { workers: 2 },
        channels: [
          {
            name: 'loopback',
            baseUrl: upstream.url,
            apiKey: 'env:TEST_CLUSTER_UPSTREAM_KEY',
            models: ['gpt-4o-mini'],
          },
        ],
        keys: [
          { name: 'metered', key: QUOTA_KEY, quota: QUOTA_USD },
          { name: 'limited', key: RPM_KEY, rpm: 5 },
        ],
        prices: { 'gpt-4o-mini': { request: REQUEST_PRICE_USD } },
      },
      env: { TEST_CLUSTER_UPSTREAM_KEY: UPSTREAM_KEY },
    });
    // Both workers up before traffic, so both can take some.
    await until(
      'two workers listening',
      () => logLines(relay).filter((l) => l.msg === 'worker listening').length >= 2,
    );
  });
  afterAll(async () => {
    if (relay?.proc.exitCode === null) {
      relay.proc.kill('SIGTERM');
      await relay.exited;
    }
    await upstream?.close();
  });

  it('spends a quota exactly once across workers: 100 parallel requests, 20 fit, one usage row each', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, () => chat(relay, QUOTA_KEY)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(FITS);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r).toMatchObject({ status: 429, code: 'insufficient_quota' });
    }

    await until('an access-log line for every request', () => {
      const seen = workerOf(relay);
      return results.every((r) => seen.has(r.requestId));
    });
    const served = workerOf(relay);
    const workers = new Set(results.map((r) => served.get(r.requestId)));
    expect([...workers].sort(), 'both workers took requests').toEqual([1, 2]);

    const store = new SqliteStore({ path: join(relay.dataDir, 'relay.db') });
    try {
      // A row is committed just after its answer went out (and its access line was written).
      const keyId = store.getKey('metered')!.id;
      await until(
        'a usage row for every request',
        () => store.listUsage({ keyId, limit: 1000 }).length >= results.length,
      );
      const key = store.getKey('metered')!;
      expect(key.usedMicros).toBeLessThanOrEqual(key.quotaMicros!);
      expect(key.usedMicros).toBe(FITS * REQUEST_PRICE_USD * 1_000_000);
      expect(key.reservedMicros).toBe(0);
      const rows = store.listUsage({ keyId: key.id, limit: 1000 });
      expect(rows.map((r) => r.requestId).sort()).toEqual(results.map((r) => r.requestId).sort());
      expect(rows.reduce((sum, r) => sum + r.costMicros, 0)).toBe(key.usedMicros);
    } finally {
      store.close();
    }
  });

  it('holds rpm across workers: 5 of 12 requests (sequential, then parallel) get through', async () => {
    const sequential = [];
    for (let i = 0; i < 4; i++) sequential.push(await chat(relay, RPM_KEY));
    const parallel = await Promise.all(Array.from({ length: 8 }, () => chat(relay, RPM_KEY)));
    const all = [...sequential, ...parallel];
    expect(sequential.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(all.filter((r) => r.status === 200)).toHaveLength(5);
    for (const r of all.filter((x) => x.status !== 200)) {
      expect(r).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    }
    await until('an access-log line for every request', () => {
      const seen = workerOf(relay);
      return all.every((r) => seen.has(r.requestId));
    });
    const served = workerOf(relay);
    expect(new Set(all.map((r) => served.get(r.requestId))).size, 'both workers counted').toBe(2);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const before = logLines(relay).filter((l) => l.msg === 'worker listening');
    const victim = before[0]!;
    process.kill(victim.pid!, 'SIGKILL');
    await until('the restart', () =>
      logLines(relay).some((l) => l.msg === 'worker died unexpectedly; restarting it'),
    );
    expect((await chat(relay, QUOTA_KEY)).code, 'answered by the survivor').toBe(
      'insufficient_quota',
    );
    await until(
      'a new worker listening',
      () => logLines(relay).filter((l) => l.msg === 'worker listening').length > before.length,
    );
    const replacement = logLines(relay)
      .filter((l) => l.msg === 'worker listening')
      .at(-1)!;
    expect(replacement.worker).toBe(3);
    expect(replacement.pid).not.toBe(victim.pid);
  });
});

describe('a cluster whose workers keep dying', () => {
  it('restarts them with backoff a bounded number of times, then gives up with exit code 1', async () => {
    const script = join(import.meta.dirname, '../fixtures/crashing-cluster.ts');
    const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    const [code] = (await once(proc, 'exit')) as [number | null];
    clearTimeout(timer);
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; restartInMs?: number });
    expect(code, stdout).toBe(1);
    const restarts = lines.filter((l) => l.msg === 'worker died unexpectedly; restarting it');
    // maxCrashes: 3 restarts, doubling from 10 ms; the fourth death inside the window ends it.
    expect(restarts.map((l) => l.restartInMs)).toEqual([10, 20, 40]);
    expect(lines.filter((l) => l.msg === 'workers keep crashing: giving up')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'all workers stopped')).toHaveLength(1);
  });
});
