/**
 * runWithFailover through the real upstream client against real loopback fault upstreams.
 * Waiting (backoff, Retry-After) goes through a ManualClock; only the upstream timeouts are
 * real, and they are kept short (≤ 300 ms).
 */
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../../app/src/routing/breaker.ts';
import { runWithFailover } from '../../../app/src/routing/failover.ts';
import {
  createUpstreamClient,
  type UpstreamClient,
} from '../../../app/src/routing/upstream-client.ts';
import { chatAttempt, type ClientView, type TestChannel } from '../../fixtures/chat-attempt.ts';
import { startFaultUpstream, type FaultUpstream } from '../../fixtures/fault-upstream.ts';
import { ManualClock } from '../../fixtures/manual-clock.ts';

const SHORT = { connectMs: 1_000, firstByteMs: 300, idleMs: 300 };
const LONG = { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 };

let a: FaultUpstream;
let b: FaultUpstream;
let client: UpstreamClient;

beforeAll(async () => {
  [a, b] = await Promise.all([startFaultUpstream(), startFaultUpstream()]);
  client = createUpstreamClient();
});
afterAll(async () => {
  await client.close();
  await Promise.all([a.close(), b.close()]);
});
afterEach(() => {
  // Fresh scripts and records per test; the servers and the pool are shared.
  for (const up of [a, b]) {
    up.requests.length = 0;
    up.script();
  }
});

function setup(
  opts: {
    stream?: boolean;
    signal?: AbortSignal;
    maxAttemptsPerChannel?: number;
    timeouts?: typeof SHORT;
  } = {},
) {
  const clock = new ManualClock();
  const breaker = new BreakerRegistry(clock, { consecutiveFailures: 3 });
  const view: ClientView = { sent: [] };
  const channels: TestChannel[] = [
    { name: 'a', baseUrl: a.baseUrl, priority: 0, timeouts: opts.timeouts ?? SHORT },
    { name: 'b', baseUrl: b.baseUrl, priority: 1, timeouts: opts.timeouts ?? SHORT },
  ];
  const body = {
    model: 'm1',
    messages: [{ role: 'user', content: 'hi' }],
    stream: opts.stream ?? true,
    stream_options: { include_usage: true },
  };
  const run = () =>
    runWithFailover({
      candidates: channels,
      model: 'm1',
      attempt: chatAttempt({ client, clock, body, view }),
      maxAttemptsPerChannel: opts.maxAttemptsPerChannel ?? 2,
      maxTotalMs: 120_000,
      clock,
      breaker,
      // random 0 → zero backoff, so retries happen without clock steps unless Retry-After says.
      random: () => 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  return { clock, breaker, view, run };
}

const contentOf = (sent: string[]): string =>
  sent
    .map((d) => JSON.parse(d) as { choices: Array<{ delta?: { content?: string } }> })
    .map((p) => p.choices[0]?.delta?.content ?? '')
    .join('');

describe('runWithFailover over real sockets', () => {
  it('500 then ok: retried on the same channel, the client sees one clean stream', async () => {
    a.script({ kind: 'status', status: 500 }, { kind: 'ok', content: 'all good here' });
    const t = setup();
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'a' }, committed: true });
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(0);
    expect(contentOf(t.view.sent)).toBe('all good here');
    // The channel answered: the 500 counts against the model on it, not the whole channel.
    expect(t.breaker.snapshot()).toMatchObject([
      { channel: 'a', model: null, state: 'closed', callsInWindow: 2, failuresInWindow: 0 },
      { channel: 'a', model: 'm1', state: 'closed', callsInWindow: 2, failuresInWindow: 1 },
    ]);
  });

  it('ok stream carries reasoning, tool-call deltas and the usage chunk through', async () => {
    a.script({ kind: 'ok', reasoning: 'think first', content: 'answer', toolCall: true });
    const t = setup();
    expect((await t.run()).ok).toBe(true);
    const payloads = t.view.sent.map((d) => JSON.parse(d) as Record<string, never>);
    const text = JSON.stringify(payloads);
    expect(text).toContain('"reasoning_content":"think "');
    expect(text).toContain('"name":"get_weather"');
    expect(payloads.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: 7 },
    });
  });

  it.each([
    ['retry-after', '2', 2_000],
    ['retry-after-ms', '750', 750],
  ])('429 with %s: %s waits exactly that long before asking again', async (header, value, ms) => {
    a.script({ kind: 'status', status: 429, headers: { [header]: value } }, { kind: 'ok' });
    const t = setup();
    const running = t.run();
    await a.waitForRequests(1);
    await t.clock.waitForSleepers(2); // budget timer + Retry-After wait
    expect(t.clock.pending()[0]).toBe(ms);
    await t.clock.advance(ms - 1);
    expect(t.clock.pending()[0]).toBe(1);
    expect(a.requests).toHaveLength(1);
    await t.clock.advance(1);
    expect(await running).toMatchObject({ ok: true, channel: { name: 'a' } });
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(0);
  });

  it('hang before headers: first-byte timeout, upstream socket closed, next channel answers', async () => {
    a.script({ kind: 'hang-before-headers' });
    const t = setup();
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'b' } });
    expect(result.attempts.map((x) => [x.channel, x.failure?.kind])).toEqual([
      ['a', 'timeout-first-byte'],
      ['b', undefined],
    ]);
    expect(a.requests).toHaveLength(1); // no same-channel retry after a silent channel
    await a.requests[0]?.closed;
    expect(
      t.breaker.snapshot().find((s) => s.channel === 'a' && s.model === 'm1')?.lastFailure?.kind,
    ).toBe('timeout-first-byte');
  });

  it('400 is passed back: no retry, no failover, upstream message kept', async () => {
    a.script({
      kind: 'status',
      status: 400,
      error: {
        message: "Invalid 'messages': empty",
        type: 'invalid_request_error',
        code: 'invalid_value',
      },
    });
    const t = setup();
    const result = await t.run();
    expect(result).toMatchObject({
      ok: false,
      reason: 'client-error',
      failure: {
        status: 400,
        error: { message: "Invalid 'messages': empty", code: 'invalid_value' },
      },
    });
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });

  it('401 marks the key dead and fails over', async () => {
    a.script({
      kind: 'status',
      status: 401,
      error: { message: 'Incorrect API key provided: sk-upstr****' },
    });
    const t = setup();
    expect(await t.run()).toMatchObject({ ok: true, channel: { name: 'b' } });
    expect(a.requests).toHaveLength(1);
    const snap = t.breaker.snapshot();
    expect(snap.find((s) => s.channel === 'a')).toMatchObject({ dead: true, state: 'open' });
    expect(JSON.stringify(snap)).not.toContain('sk-');
  });

  it.each([
    [
      'idle timeout before content',
      { kind: 'hang-mid-stream', afterChunks: 1 } as const,
      'timeout-idle',
    ],
    [
      'socket dropped before content',
      { kind: 'drop-mid-stream', afterChunks: 1 } as const,
      'connect',
    ],
    ['malformed SSE', { kind: 'malformed-sse' } as const, 'malformed'],
    ['error object in a 200 stream', { kind: 'stream-error' } as const, 'stream-error'],
  ])('%s: fails over to the next channel', async (_name, step, kind) => {
    a.script(step);
    const t = setup({ maxAttemptsPerChannel: 1 });
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'b' } });
    expect(result.attempts[0]?.failure?.kind).toBe(kind);
    expect(t.view.channel).toBe('b');
    expect(t.view.midStreamFailure).toBeUndefined();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
  });

  it.each([
    [
      'idle timeout after content',
      { kind: 'hang-mid-stream', afterChunks: 3 } as const,
      'timeout-idle',
    ],
    [
      'socket dropped after content',
      { kind: 'drop-mid-stream', afterChunks: 3 } as const,
      'connect',
    ],
    [
      'error object after content',
      { kind: 'stream-error', afterChunks: 3 } as const,
      'stream-error',
    ],
  ])('%s: committed, no failover, the failure is reported', async (_name, step, kind) => {
    a.script(step);
    const t = setup();
    const result = await t.run();
    expect(result).toMatchObject({
      ok: false,
      reason: 'committed',
      committed: true,
      failure: { kind },
    });
    expect(t.view.midStreamFailure?.kind).toBe(kind);
    expect(contentOf(t.view.sent)).toBe('one two ');
    expect(b.requests).toHaveLength(0);
  });

  it.each([
    ['before headers', { kind: 'hang-before-headers' } as const],
    ['mid-stream after content', { kind: 'hang-mid-stream', afterChunks: 3 } as const],
  ])('client abort %s closes the upstream socket within 1 s', async (_name, step) => {
    a.script(step);
    const client = new AbortController();
    // Timeouts far above 1 s, so only the abort can close the socket in time.
    const t = setup({ signal: client.signal, timeouts: LONG });
    const running = t.run();
    await a.waitForRequests(1);
    if (step.kind === 'hang-mid-stream') {
      // Wait until content reached the client, so the abort hits a streaming body.
      for (let i = 0; i < 100 && t.view.sent.length < 2; i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(contentOf(t.view.sent)).toBe('one two ');
    }
    const abortedAt = performance.now();
    client.abort();
    const result = await running;
    const closedAt = await a.requests[0]?.closed;
    expect(result).toMatchObject({ ok: false, reason: 'aborted' });
    expect((closedAt as number) - abortedAt).toBeLessThan(1_000);
    expect(b.requests).toHaveLength(0);
    expect(t.breaker.snapshot()[0]).toMatchObject({ failuresInWindow: 0, lastFailure: null });
  });
});
