/**
 * Fleet mode end to end: two relay processes (`node app/src/server.ts`, as on two hosts) share
 * one DynamoDB (dynalite on 127.0.0.1) and one loopback upstream. Quota, RPM and TPM hold
 * exactly across both, and a process killed mid-request leaves no hold past its lease.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDynalite, TEST_CREDENTIALS, TEST_REGION } from '../fixtures/dynalite.ts';
import type { Dynalite } from '../fixtures/dynalite.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const UPSTREAM_KEY = 'sk-upstream-fleet-1';
const QUOTA_KEY = 'sk-fleet-quota-0123456789abcdef';
const RPM_KEY = 'sk-fleet-rpm-0123456789abcdef';
const TPM_KEY = 'sk-fleet-tpm-0123456789abcdef';
const SLOW_KEY = 'sk-fleet-slow-0123456789abcdef';
const LEASE_MS = 10_000;

let db: Dynalite;
let upstream: FakeUpstream;
let prefix: string;
let relays: RelayProcess[] = [];

function config(): Record<string, unknown> {
  return {
    store: {
      type: 'dynamodb',
      tablePrefix: prefix,
      region: TEST_REGION,
      endpoint: db.endpoint,
      holdLeaseMs: LEASE_MS,
    },
    channels: [
      {
        name: 'loopback',
        type: 'openai',
        baseUrl: upstream.url,
        apiKey: 'env:FLEET_UPSTREAM_KEY',
        models: ['gpt-4o-mini'],
      },
    ],
    keys: [
      // 10 prompt + 10 completion tokens at $100/M each: 2000 micros a request, 10 in the quota.
      { name: 'quota', key: QUOTA_KEY, quota: 0.02 },
      { name: 'rpm', key: RPM_KEY, rpm: 7 },
      { name: 'tpm', key: TPM_KEY, tpm: 50 },
      { name: 'slow', key: SLOW_KEY, quota: 1 },
    ],
    prices: { 'gpt-4o-mini': { input: 100, output: 100 } },
  };
}

const ask = (relay: RelayProcess, key: string, extra: Record<string, unknown> = {}) =>
  fetch(`${relay.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
      ...extra,
    }),
    signal: AbortSignal.timeout(15_000),
  });

beforeAll(async () => {
  db = await startDynalite();
  prefix = await db.tables();
  upstream = await startOpenAiUpstream({
    apiKey: UPSTREAM_KEY,
    promptTokens: 10,
    completionTokens: 10,
    reply: 'ok',
  });
  const env = {
    FLEET_UPSTREAM_KEY: UPSTREAM_KEY,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };
  relays = await Promise.all([
    spawnRelay({ config: config(), env }),
    spawnRelay({ config: config(), env }),
  ]);
}, 30_000);

afterAll(async () => {
  for (const r of relays)
    if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
  await Promise.all(relays.map((r) => r.exited));
  await upstream?.close();
  await db?.close();
});

/** Starts a burst away from a minute's end, so that one fixed minute holds all of it. */
async function awayFromMinuteEnd(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 56_000) await new Promise((r) => setTimeout(r, 60_000 - into + 50));
}

describe('two relays on one DynamoDB', () => {
  it('never overspend a small quota under 200 concurrent requests spread over both', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ask(relays[i % 2]!, QUOTA_KEY).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      ),
    );
    const ok = answers.filter((a) => a.status === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    // Then one at a time, alternating, until the key is refused: it gets close, never past.
    let more = 0;
    for (let i = 0; i < 20; i++) {
      const r = await ask(relays[i % 2]!, QUOTA_KEY);
      if (r.status !== 200) break;
      more++;
    }
    expect(ok + more).toBeLessThanOrEqual(10);
    const store = await db.store({ tablePrefix: prefix });
    // The last answer went out before its settlement's writes: wait until its hold is gone.
    await vi.waitFor(async () => expect((await store.keys.get('quota'))!.reservedMicros).toBe(0));
    const key = (await store.keys.get('quota'))!;
    expect(key.usedMicros).toBe((ok + more) * 2000);
    expect(key.usedMicros).toBeLessThanOrEqual(20_000);
    expect(key.reservedMicros).toBe(0);
    const rows = await store.usage.list({ keyId: key.id, limit: 1000 });
    expect(rows.filter((r) => r.status === 200)).toHaveLength(ok + more);
    await store.close();
  });

  it('hold RPM exactly across both relays', async () => {
    await awayFromMinuteEnd();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ask(relays[i % 2]!, RPM_KEY).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(13);
  });

  it('hold TPM exactly across both relays: refused once the window is full, whichever relay asks', async () => {
    await awayFromMinuteEnd();
    // 20 tokens a request, counted at settlement: 20, 40, 60 ≥ 50.
    for (const relay of [relays[0]!, relays[1]!, relays[0]!])
      expect((await ask(relay, TPM_KEY)).status).toBe(200);
    // Tokens are counted as the requests settle; a read-only look at the window waits for it.
    const probe = await db.store({ tablePrefix: prefix });
    const { id } = (await probe.keys.get('tpm'))!;
    await vi.waitFor(async () =>
      expect((await probe.rates.hit(id, { rpm: null, tpm: 50 }, Date.now())).admitted).toBe(false),
    );
    await probe.close();
    for (const relay of relays) {
      const refused = await ask(relay, TPM_KEY);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('x-ratelimit-limit-tokens')).toBe('50');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it('leave no hold past its lease when a relay is killed mid-request', async () => {
    // The upstream never answers this one: the request is in flight when its relay dies.
    upstream.overrides.push(() => new Promise<boolean>(() => {}));
    const victim = relays[1]!;
    const pending = ask(victim, SLOW_KEY).catch(() => null);
    const store = await db.store({ tablePrefix: prefix });
    const key = async () => (await store.keys.get('slow'))!;
    for (let i = 0; (await key()).reservedMicros === 0; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.exited;
    await pending;
    const { id, reservedMicros, usedMicros, quotaMicros } = await key();
    expect(reservedMicros).toBeGreaterThan(0);
    // Past the lease, without any sweep, the hold counts no more: the whole rest can be held.
    const later = await db.store({ tablePrefix: prefix, now: () => killedAt + LEASE_MS + 1 });
    expect((await later.keys.get('slow'))!.reservedMicros).toBe(0);
    expect(await later.ledger.reserve(id, quotaMicros! - usedMicros, 1000)).not.toBeNull();
    await later.close();
    await store.close();
  });
});
