/**
 * Answer first, write behind: a JSON answer goes out before its usage row and charge are
 * committed. On the real relay process, in both ledger modes (a single relay keeps its holds
 * and undecided charges in memory; cluster workers keep holds as rows until the settlement
 * commits), a key with a small quota hammered one request after another and all at once never
 * gets past its quota, and every request leaves its row.
 *
 * Each answer costs more than its hold (100 completion tokens against max_tokens 5), so what
 * stops a key is the charge capped at what is left, decided before the answer goes out; a next
 * request that reads a stale balance would take the key past its quota.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const UPSTREAM_KEY = 'sk-upstream-write-behind-1';
const SEQUENTIAL_KEY = 'sk-write-behind-seq-0123456789';
const PARALLEL_KEY = 'sk-write-behind-par-0123456789';
/** 10 + 100 tokens at $1 per 1M: 110 µ$ an answer, far more than its hold. */
const COST = 110;
const QUOTA_MICROS = 1000;

interface Sent {
  readonly status: number;
  readonly id: string;
}

function send(relay: RelayProcess, key: string, i: number): Promise<Sent> {
  return fetch(`${relay.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'm',
      max_tokens: 5,
      // Mostly JSON (the answers that no longer wait for their rows), some streams beside them.
      stream: i % 5 === 4,
      messages: [{ role: 'user', content: `#${i}` }],
    }),
    signal: AbortSignal.timeout(10_000),
  }).then(async (res) => {
    await res.text();
    return { status: res.status, id: res.headers.get('x-request-id')! };
  });
}

/** The key's money and rows as committed in the relay's file. */
function committed(relay: RelayProcess, name: string) {
  const db = new DatabaseSync(join(relay.dataDir, 'relay.db'), { readOnly: true });
  try {
    const key = db
      .prepare('SELECT id, quota_micros, used_micros, reserved_micros FROM keys WHERE name = ?')
      .get(name) as {
      id: number;
      quota_micros: number;
      used_micros: number;
      reserved_micros: number;
    };
    const rows = db
      .prepare('SELECT request_id, status, cost_micros FROM usage WHERE key_id = ?')
      .all(key.id) as { request_id: string; status: number; cost_micros: number }[];
    return { key, rows };
  } finally {
    db.close();
  }
}

/** Rows are committed just after their answers: polled for, never slept on. */
async function rowsFor(relay: RelayProcess, name: string, sent: readonly Sent[]) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const file = committed(relay, name);
    if (file.rows.length >= sent.length) return file;
    if (Date.now() > deadline) throw new Error(`${file.rows.length} of ${sent.length} rows`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function expectWithinQuota(file: ReturnType<typeof committed>, sent: readonly Sent[]): void {
  const ok = sent.filter((s) => s.status === 200).length;
  expect(ok).toBeGreaterThan(0);
  expect(sent.filter((s) => s.status !== 200 && s.status !== 429)).toEqual([]);
  expect(file.key.quota_micros).toBe(QUOTA_MICROS);
  expect(file.key.used_micros).toBeLessThanOrEqual(QUOTA_MICROS);
  expect(file.key.reserved_micros).toBe(0);
  expect(file.rows.reduce((sum, r) => sum + r.cost_micros, 0)).toBe(file.key.used_micros);
  expect(file.rows.map((r) => r.request_id).sort()).toEqual(sent.map((s) => s.id).sort());
  // Every answer was paid for in full until the quota ran out: nothing went unbilled early.
  expect(file.key.used_micros).toBeGreaterThan(QUOTA_MICROS - COST);
}

describe.each([
  ['a single relay (holds and undecided charges in memory)', 1],
  ['two cluster workers (holds as rows until the settlement commits)', 2],
])('answers before their rows commit, on %s', (_name, workers) => {
  let upstream: FakeUpstream;
  let relay: RelayProcess;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      promptTokens: 10,
      completionTokens: 100,
    });
    relay = await spawnRelay({
      config: {
        server: { workers },
        channels: [
          { name: 'u', type: 'openai', baseUrl: upstream.url, apiKey: 'env:UP', models: ['m'] },
        ],
        keys: [
          { name: 'seq', key: SEQUENTIAL_KEY, quota: QUOTA_MICROS / 1e6 },
          { name: 'par', key: PARALLEL_KEY, quota: QUOTA_MICROS / 1e6 },
        ],
        prices: { m: { input: 1, output: 1 } },
      },
      env: { UP: UPSTREAM_KEY },
    });
  }, 30_000);
  afterAll(async () => {
    if (relay?.proc.exitCode === null) {
      relay.proc.kill('SIGTERM');
      await relay.exited;
    }
    await upstream?.close();
  });

  it('one request after another: each next one sees the last charge, never past the quota', async () => {
    const sent: Sent[] = [];
    for (let i = 0; i < 20; i++) sent.push(await send(relay, SEQUENTIAL_KEY, i));
    // Paid in full while the room lasted (9 × 110), then capped, then refused.
    expect(sent.slice(0, 9).every((s) => s.status === 200)).toBe(true);
    expect(sent.at(-1)!.status).toBe(429);
    expectWithinQuota(await rowsFor(relay, 'seq', sent), sent);
  });

  it('all at once: never past the quota, whatever the interleaving of answers and commits', async () => {
    const sent = await Promise.all(
      Array.from({ length: 60 }, (_, i) => send(relay, PARALLEL_KEY, i)),
    );
    expectWithinQuota(await rowsFor(relay, 'par', sent), sent);
  });
});
