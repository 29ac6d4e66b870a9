/**
 * Quota holds in memory (a single relay on its SQLite file), on the real relay process: what
 * SIGTERM and SIGKILL leave in the file under load, and two relay processes on one file.
 *
 * A single relay keeps its holds in memory and writes settlements behind, through the group
 * commit. SIGTERM must lose no settled row. SIGKILL may lose the settlements of the group
 * commit's last window (COMMIT_WINDOW_ROWS at most, unless a checkpoint held it back), never a
 * charge without its row or the reverse, and leaves no hold behind.
 */
import { rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';
import { COMMIT_WINDOW_ROWS } from '../../app/src/store/sqlite-ledger.ts';

const CLIENT_KEY = 'sk-holds-memory-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-holds-1';
const CLIENTS = 4;
/** Upper bound per client whatever happens; the loops normally end when the relay stops. */
const MAX_REQUESTS_PER_CLIENT = 300;

interface Answered {
  readonly id: string;
  readonly stream: boolean;
  readonly status: number;
}

/**
 * CLIENTS loops of alternating JSON and streaming requests, each read to its end, until `stop`
 * or the relay stops answering. `answered` is every request whose whole answer arrived.
 */
function load(baseUrl: string, stop: { now: boolean }) {
  const answered: Answered[] = [];
  const client = async (c: number) => {
    for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !stop.now; i++) {
      const stream = (i + c) % 2 === 0;
      try {
        const res = await fetch(`${baseUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'm',
            stream,
            max_tokens: 100,
            messages: [{ role: 'user', content: `#${c}.${i}` }],
          }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (stream && res.status === 200 && !text.trimEnd().endsWith('data: [DONE]')) return;
        answered.push({ id: res.headers.get('x-request-id')!, stream, status: res.status });
      } catch {
        return; // refused or cut: the relay is going
      }
    }
  };
  const done = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  return { answered, done };
}

/** What the relay left in its file: rows by request id, the key's money, hold rows. */
function fileOf(relay: RelayProcess) {
  const db = new DatabaseSync(join(relay.dataDir, 'relay.db'));
  try {
    const rows = db.prepare('SELECT request_id, cost_micros FROM usage').all() as {
      request_id: string;
      cost_micros: number;
    }[];
    const key = db.prepare('SELECT used_micros, reserved_micros FROM keys').get() as {
      used_micros: number;
      reserved_micros: number;
    };
    const { n } = db.prepare('SELECT COUNT(*) AS n FROM holds').get() as { n: number };
    return {
      ids: new Set(rows.map((r) => r.request_id)),
      cost: rows.reduce((s, r) => s + r.cost_micros, 0),
      used: key.used_micros,
      reserved: key.reserved_micros,
      holdRows: n,
    };
  } finally {
    db.close();
  }
}

async function until(check: () => boolean, withinMs: number): Promise<void> {
  for (const end = Date.now() + withinMs; !check(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error(`not within ${withinMs} ms`);
  }
}

describe('holds in memory on the real relay process', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function upstream(): Promise<FakeUpstream> {
    // $110 per request at $1 per token: 10 prompt and 100 completion tokens.
    const u = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      promptTokens: 10,
      completionTokens: 100,
    });
    cleanup.push(() => u.close());
    return u;
  }

  async function relay(u: FakeUpstream, quota: number, dataDir?: string): Promise<RelayProcess> {
    const r = await spawnRelay({
      config: {
        server: { shutdownGraceMs: 10_000 },
        channels: [
          { name: 'u', type: 'openai', baseUrl: u.url, apiKey: 'env:UP_KEY', models: ['m'] },
        ],
        keys: [{ name: 'alice', key: CLIENT_KEY, quota }],
        prices: { m: { input: 1, output: 1 } },
      },
      env: { UP_KEY: UPSTREAM_KEY },
      ...(dataDir !== undefined && { dataDir }),
    });
    cleanup.push(() => void (r.proc.exitCode === null && r.proc.kill('SIGKILL')));
    return r;
  }

  it('SIGTERM under load: a usage row for every answered request, each charged, no hold left', async () => {
    const r = await relay(await upstream(), 1000);
    const stop = { now: false };
    const { answered, done } = load(r.baseUrl, stop);
    await until(() => answered.length >= 100, 20_000);
    r.proc.kill('SIGTERM');
    await done;
    expect((await r.exited).code).toBe(0);
    const file = fileOf(r);
    expect(answered.every((a) => a.status === 200)).toBe(true);
    // JSON answers go out before their rows commit: the drain must cover those writes too.
    expect(answered.filter((a) => !a.stream).length).toBeGreaterThanOrEqual(50);
    expect([...file.ids].sort()).toEqual(answered.map((a) => a.id).sort());
    expect(file).toMatchObject({ used: answered.length * 110, reserved: 0, holdRows: 0 });
    expect(file.cost).toBe(file.used);
  });

  it("SIGKILL under load: loses at most the group commit's last window, each row with its charge, and no hold", async () => {
    const u = await upstream();
    const r = await relay(u, 1000);
    const stop = { now: false };
    const { answered, done } = load(r.baseUrl, stop);
    await until(() => answered.length >= 100, 20_000);
    r.proc.kill('SIGKILL');
    await done;
    await r.exited;
    const file = fileOf(r);
    // Answers go out before their rows commit (within COMMIT_WINDOW_MS, or once
    // COMMIT_WINDOW_ROWS are queued): the rows of the last window may be lost, no more.
    const lost = answered.filter((a) => !file.ids.has(a.id));
    expect(lost.length).toBeLessThanOrEqual(COMMIT_WINDOW_ROWS);
    expect(file.cost).toBe(file.used);
    expect(file).toMatchObject({ reserved: 0, holdRows: 0 });
    // The kernel dropped the dead relay's lock: a new one takes the file and serves.
    const again = await relay(u, 1000, r.dataDir);
    const next = load(again.baseUrl, { now: false });
    await until(() => next.answered.length >= 1, 10_000);
    again.proc.kill('SIGTERM');
    await next.done;
    expect(next.answered[0]!.status).toBe(200);
  });

  it('two relay processes on one file (the second makes the first write its holds out) never overspend', async () => {
    const u = await upstream();
    const first = await relay(u, 0.002);
    const second = await relay(u, 0.002, first.dataDir);
    await sendFromBoth(first, second);
  });

  it('a relay whose lock file is deleted says so and rejoins: with a second relay started after, neither overspends', async () => {
    const u = await upstream();
    const first = await relay(u, 0.002);
    rmSync(join(first.dataDir, 'relay.db.lock'));
    await until(() => first.output.some((l) => l.includes('was deleted or replaced')), 5000);
    const second = await relay(u, 0.002, first.dataDir);
    await sendFromBoth(first, second);
  });

  /** 60 requests spread over both relays, then both stopped: the key's quota never passed. */
  async function sendFromBoth(first: RelayProcess, second: RelayProcess): Promise<void> {
    const send = (r: RelayProcess, i: number) =>
      fetch(`${r.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'm',
          max_tokens: 100,
          stream: i % 4 < 2,
          messages: [{ role: 'user', content: `#${i}` }],
        }),
      }).then(async (res) => ({ status: res.status, text: await res.text() }));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => send(i % 2 ? first : second, i)),
    );
    const ok = results.filter((x) => x.status === 200).length;
    expect(ok + results.filter((x) => x.status === 429).length).toBe(60);
    // $0.002 / $0.00011 = 18 could be paid for; the holds are larger, so fewer get in.
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(18);
    first.proc.kill('SIGTERM');
    second.proc.kill('SIGTERM');
    await Promise.all([first.exited, second.exited]);
    const file = fileOf(first);
    expect(file.ids.size).toBe(60);
    expect(file).toMatchObject({ used: ok * 110, reserved: 0, holdRows: 0 });
  }
});
