/**
 * The proxy through the app (app.request(), no port of its own) against real loopback fault
 * upstreams: retries, failover, commit, mid-stream failures and aborts, each with the one
 * usage row. Waiting (backoff, Retry-After, heartbeats) goes through a ManualClock; only the
 * upstream timeouts are real, and they are kept short (≤ 300 ms).
 */
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultUpstream, type FaultUpstream } from '../../../test/fixtures/fault-upstream.ts';
import { ManualClock } from '../../../test/fixtures/manual-clock.ts';
import { idle } from '../../../test/fixtures/idle.ts';
import { eventually } from '../../../test/fixtures/relay-harness.ts';
import { createApp } from '../app.ts';
import { parseRelayConfig } from '../config.ts';
import { createInflightTracker } from '../inflight.ts';
import { createLogger } from '../logger.ts';
import { BreakerRegistry } from '../routing/breaker.ts';
import { createUpstreamClient, type UpstreamClient } from '../routing/upstream-client.ts';
import { SqliteStore } from '../store/sqlite.ts';

const KEY = 'sk-proxy-test-0123456789';
const SHORT = { connectMs: 1_000, firstByteMs: 300, idleMs: 300 };
const LONG = { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 };

let a: FaultUpstream;
let b: FaultUpstream;
let upstream: UpstreamClient;

beforeAll(async () => {
  [a, b] = await Promise.all([startFaultUpstream(), startFaultUpstream()]);
  upstream = createUpstreamClient();
});
afterAll(async () => {
  await upstream.close();
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
    maxAttemptsPerChannel?: number;
    timeouts?: typeof SHORT;
    /** Holds in memory, and usage rows committed this long after the first one is queued. */
    commitWindowMs?: number;
  } = {},
) {
  const clock = new ManualClock();
  const breaker = new BreakerRegistry(clock, { consecutiveFailures: 3 });
  const store = new SqliteStore({
    path: ':memory:',
    ...(opts.commitWindowMs !== undefined && {
      holdsInMemory: true,
      commitWindowMs: opts.commitWindowMs,
    }),
  });
  store.upsertKey({ name: 'k', key: KEY, quotaUsd: 10 });
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
        cb();
      },
    }),
  });
  const timeouts = opts.timeouts ?? SHORT;
  const config = parseRelayConfig(
    {
      server: { maxAttemptsPerChannel: opts.maxAttemptsPerChannel ?? 2 },
      channels: [
        { name: 'a', baseUrl: a.baseUrl, apiKey: 'up-a', models: ['m1'], priority: 0, timeouts },
        { name: 'b', baseUrl: b.baseUrl, apiKey: 'up-b', models: ['m1'], priority: 1, timeouts },
      ],
      prices: { m1: { input: 1, output: 2 } },
    },
    {},
  );
  // random 0 → zero backoff, so retries happen without clock steps unless Retry-After says.
  const inflight = createInflightTracker();
  const app = createApp({
    config,
    store,
    logger,
    clock,
    breaker,
    upstream,
    random: () => 0,
    inflight,
  });
  const chat = (stream: boolean, signal?: AbortSignal) =>
    app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm1',
        messages: [{ role: 'user', content: 'hi' }],
        stream,
        ...(stream && { stream_options: { include_usage: true } }),
      }),
      ...(signal && { signal }),
    });
  const attemptKinds = () =>
    logs.filter((l) => l.msg === 'upstream attempt failed').map((l) => [l.channel, l.kind]);
  /** An answer goes out before its row is committed: reading rows waits for this. */
  const settled = () => idle(inflight);
  return { app, clock, breaker, store, logs, chat, attemptKinds, settled };
}

/** The data payloads of an SSE body, in order. */
async function ssePayloads(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));
}

const contentOf = (payloads: string[]): string =>
  payloads
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as { choices?: Array<{ delta?: { content?: string } }> })
    .map((p) => p.choices?.[0]?.delta?.content ?? '')
    .join('');

describe('the proxy over real sockets', () => {
  it('500 then ok: retried on the same channel, the client sees one clean stream', async () => {
    a.script({ kind: 'status', status: 500 }, { kind: 'ok', content: 'all good here' });
    const t = setup();
    const payloads = await ssePayloads(await t.chat(true));
    expect(contentOf(payloads)).toBe('all good here');
    expect(payloads.at(-1)).toBe('[DONE]');
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(0);
    // The channel answered: the 500 counts against the model on it, not the whole channel.
    expect(t.breaker.snapshot()).toMatchObject([
      { channel: 'a', model: null, state: 'closed', callsInWindow: 2, failuresInWindow: 0 },
      { channel: 'a', model: 'm1', state: 'closed', callsInWindow: 2, failuresInWindow: 1 },
    ]);
    // A stream's row is written as it ends, just after the client saw the end.
    await eventually(() =>
      expect(t.store.listUsage()).toEqual([
        expect.objectContaining({
          status: 200,
          channel: 'a',
          source: 'upstream',
          promptTokens: 12,
        }),
      ]),
    );
  });

  it('passes reasoning, tool-call deltas and the usage chunk through unchanged', async () => {
    a.script({ kind: 'ok', reasoning: 'think first', content: 'answer', toolCall: true });
    const t = setup();
    const payloads = await ssePayloads(await t.chat(true));
    const text = payloads.join('\n');
    expect(text).toContain('"reasoning_content":"think "');
    expect(text).toContain('"name":"get_weather"');
    expect(JSON.parse(payloads.at(-2)!)).toMatchObject({
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
    const running = t.chat(false);
    await a.waitForRequests(1);
    await t.clock.waitForSleepers(2); // budget timer + Retry-After wait
    expect(t.clock.pending()).toContain(ms);
    await t.clock.advance(ms - 1);
    expect(a.requests).toHaveLength(1);
    await t.clock.advance(1);
    expect((await running).status).toBe(200);
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(0);
  });

  it('hang before headers: first-byte timeout, upstream socket closed, next channel answers', async () => {
    a.script({ kind: 'hang-before-headers' });
    const t = setup();
    const res = await t.chat(false);
    expect(res.status).toBe(200);
    expect(t.attemptKinds()).toEqual([['a', 'timeout-first-byte']]);
    expect(a.requests).toHaveLength(1); // no same-channel retry after a silent channel
    await a.requests[0]?.closed;
    await t.settled();
    expect(t.store.listUsage()[0]).toMatchObject({ channel: 'b', detail: { attempts: 2 } });
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
    const res = await t.chat(false);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { message: "Invalid 'messages': empty", code: 'invalid_value' },
    });
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    await t.settled();
    expect(t.store.listUsage()[0]).toMatchObject({
      status: 400,
      costMicros: 0,
      errorCode: 'invalid_value',
    });
  });

  it('401 marks the key dead and fails over; the upstream text never reaches a snapshot', async () => {
    a.script({
      kind: 'status',
      status: 401,
      error: { message: 'Incorrect API key provided: sk-upstr****' },
    });
    const t = setup();
    expect((await t.chat(false)).status).toBe(200);
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
    [
      'body ended cleanly before content',
      { kind: 'end-mid-stream', afterChunks: 1 } as const,
      'malformed',
    ],
    ['error object in a 200 stream', { kind: 'stream-error' } as const, 'stream-error'],
  ])('%s: fails over to the next channel, the client never sees it', async (_name, step, kind) => {
    a.script(step);
    const t = setup({ maxAttemptsPerChannel: 1 });
    const payloads = await ssePayloads(await t.chat(true));
    expect(t.attemptKinds()).toEqual([['a', kind]]);
    expect(contentOf(payloads)).toBe('Hello from the fault upstream.');
    expect(payloads.some((p) => p.includes('"error"'))).toBe(false);
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
    await eventually(() =>
      expect(t.store.listUsage()).toEqual([expect.objectContaining({ channel: 'b', status: 200 })]),
    );
  });

  it.each([
    [
      'idle timeout after content',
      { kind: 'hang-mid-stream', afterChunks: 3 } as const,
      'timeout-idle',
      'stream_interrupted',
    ],
    [
      'socket dropped after content',
      { kind: 'drop-mid-stream', afterChunks: 3 } as const,
      'connect',
      'stream_interrupted',
    ],
    [
      'body ended cleanly after content',
      { kind: 'end-mid-stream', afterChunks: 3 } as const,
      'connect',
      'stream_interrupted',
    ],
    [
      'error object after content',
      { kind: 'stream-error', afterChunks: 3 } as const,
      'stream-error',
      'upstream_error',
    ],
  ])(
    '%s: committed, no failover, the stream ends with an error event',
    async (_name, step, kind, code) => {
      a.script(step);
      const t = setup();
      const payloads = await ssePayloads(await t.chat(true));
      expect(contentOf(payloads.slice(0, -1))).toBe('one two ');
      expect(JSON.parse(payloads.at(-1)!)).toMatchObject({
        error: { type: expect.any(String), code },
      });
      expect(payloads).not.toContain('[DONE]');
      expect(t.attemptKinds()).toEqual([['a', kind]]);
      expect(b.requests).toHaveLength(0);
      const [row] = await eventually(() => {
        const rows = t.store.listUsage();
        expect(rows).toHaveLength(1);
        return rows;
      });
      expect(row).toMatchObject({ channel: 'a', source: 'partial' });
      expect(row!.costMicros).toBeGreaterThan(0);
    },
  );

  it.each([
    ['before headers', { kind: 'hang-before-headers' } as const],
    ['mid-stream after content', { kind: 'hang-mid-stream', afterChunks: 3 } as const],
  ])('client abort %s closes the upstream socket within 1 s', async (_name, step) => {
    a.script(step);
    const client = new AbortController();
    // Timeouts far above 1 s, so only the abort can close the socket in time.
    const t = setup({ timeouts: LONG });
    const running = t.chat(true, client.signal);
    await a.waitForRequests(1);
    if (step.kind === 'hang-mid-stream') {
      // Read until content reached the client, so the abort hits a streaming body.
      const res = await running;
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('two')) seen += new TextDecoder().decode((await reader.read()).value);
    }
    const abortedAt = performance.now();
    client.abort();
    const closedAt = await a.requests[0]?.closed;
    expect((closedAt as number) - abortedAt).toBeLessThan(1_000);
    expect(b.requests).toHaveLength(0);
    expect(t.breaker.snapshot()[0]).toMatchObject({ failuresInWindow: 0, lastFailure: null });
  });
});

describe('a request whose usage row waits for the commit', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('is let go of once answered: its objects need not outlive the commit window', async () => {
    a.script({ kind: 'ok', content: 'kept short' });
    const t = setup({ commitWindowMs: 1_500 });
    // The client's Request is what the request's context holds first: whatever keeps the
    // context (a closure, an async function waiting on the row) keeps it too. Made in a scope
    // of its own, so that the test itself holds only the WeakRef.
    const sent = await (async () => {
      const req = new Request('http://relay.test/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const res = await t.app.request(req);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('kept short');
      return new WeakRef(req);
    })();
    // A WeakRef's target lives to the end of the job that made it; and collect twice, so
    // whatever a finalizer or a weak callback let go of in the first is gone too.
    await new Promise((r) => setImmediate(r));
    gc();
    gc();
    expect(t.store.listUsage(), 'the row is still waiting for its commit').toEqual([]);
    expect(sent.deref() === undefined, 'the answered request is let go of').toBe(true);
    await t.settled();
    expect(t.store.listUsage()).toEqual([expect.objectContaining({ status: 200, channel: 'a' })]);
  });

  it('is refused without waiting for its row', async () => {
    const t = setup({ commitWindowMs: 1_500 });
    const res = await t.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    expect(t.store.listUsage(), 'the answer came after the commit').toEqual([]);
    await t.settled();
    expect(t.store.listUsage()).toEqual([
      expect.objectContaining({ status: 404, model: 'no-such-model' }),
    ]);
  });
});
