import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiError, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-overhead-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-overhead-secret';
/** How long the upstream makes each request below wait: far above anything the relay adds. */
const UPSTREAM_DELAY_MS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses `relay;dur=0.412;desc="…", upstream;dur=300.1;desc="…"` into { relay, upstream }. */
function serverTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe('the relay-overhead headers', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: UPSTREAM_KEY });
    t = await startTestRelay({
      // Heartbeats start the stream long before the upstream's first byte, and long after the
      // relay's own work before its upstream call (which a loaded test machine can stretch to
      // tens of ms: at 20 ms, the wait so far was at times shorter than that work).
      server: { heartbeatMs: 100 },
      channels: [{ name: 'main', baseUrl: upstream.url, apiKey: UPSTREAM_KEY, models: ['gpt-4o'] }],
      keys: [{ name: 'timed', key: KEY, quota: 1 }],
      prices: { 'gpt-4o': { input: 2.5, output: 10 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const chat = (stream: boolean) =>
    fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });

  /** The upstream's next answer comes UPSTREAM_DELAY_MS late (its headers included). */
  const delayNextAnswer = () =>
    upstream.overrides.push(async () => {
      await sleep(UPSTREAM_DELAY_MS);
      return false;
    });

  /** The headers' story must add up: relay time + upstream wait never exceeds what the client waited. */
  function expectConsistent(res: Response, clientMs: number, minUpstreamMs: number) {
    const overhead = Number(res.headers.get('x-relay-overhead-ms'));
    const timing = serverTiming(res.headers.get('server-timing'));
    expect(Number.isFinite(overhead)).toBe(true);
    expect(timing.relay).toBe(overhead);
    expect(timing.upstream).toBeGreaterThanOrEqual(minUpstreamMs);
    expect(overhead).toBeLessThan(timing.upstream!);
    expect(overhead + timing.upstream!).toBeLessThanOrEqual(clientMs + 1);
    return { overhead, upstream: timing.upstream! };
  }

  it('leaves the upstream’s wait out of a JSON answer’s overhead', async () => {
    delayNextAnswer();
    const started = performance.now();
    const res = await chat(false);
    await res.json();
    expect(res.status).toBe(200);
    expectConsistent(res, performance.now() - started, UPSTREAM_DELAY_MS);
  });

  it('counts a wait still in progress when heartbeats send a stream’s headers early', async () => {
    delayNextAnswer();
    const started = performance.now();
    const res = await chat(true);
    const headersAt = performance.now() - started;
    const body = await res.text();
    expect(body).toContain('data: [DONE]');
    // Stamped when the first heartbeat opened the stream, mid-wait: the open wait is the
    // upstream's, so the overhead stays small although the relay had been busy waiting.
    const { upstream: waited } = expectConsistent(res, headersAt, 1);
    expect(waited).toBeLessThan(UPSTREAM_DELAY_MS);
  });

  it('leaves Retry-After backoff out of the overhead too', async () => {
    upstream.overrides.push((_req, res) => {
      openAiError(res, 429, 'Rate limit reached.', 'rate_limit_exceeded', 'requests', {
        'retry-after-ms': String(UPSTREAM_DELAY_MS),
      });
      return true;
    });
    const started = performance.now();
    const res = await chat(false);
    await res.json();
    expect(res.status).toBe(200);
    expectConsistent(res, performance.now() - started, UPSTREAM_DELAY_MS);
  });

  it('is on every answer: errors, model lists and health checks', async () => {
    const answers = await Promise.all([
      fetch(`${t.baseUrl}/v1/chat/completions`, { method: 'POST' }),
      fetch(`${t.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } }),
      fetch(`${t.baseUrl}/healthz`),
      fetch(`${t.baseUrl}/v1/nope`, { headers: { authorization: `Bearer ${KEY}` } }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([401, 200, 200, 404]);
    for (const res of answers) {
      expect(res.headers.get('x-relay-overhead-ms')).toMatch(/^\d+\.\d{3}$/);
      expect(serverTiming(res.headers.get('server-timing'))).toMatchObject({
        relay: Number(res.headers.get('x-relay-overhead-ms')),
        upstream: expect.any(Number),
      });
      await res.body?.cancel();
    }
  });

  it('lets browser clients read it (CORS exposes it)', async () => {
    const res = await fetch(`${t.baseUrl}/v1/models`, {
      headers: { authorization: `Bearer ${KEY}`, origin: 'https://chat.example.com' },
    });
    await res.body?.cancel();
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    expect(exposed).toContain('x-relay-overhead-ms');
    expect(exposed).toContain('server-timing');
  });
});
