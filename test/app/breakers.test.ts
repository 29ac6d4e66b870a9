/**
 * Circuit breakers under traffic, through the real relay: two loopback upstreams that both serve
 * a healthy model and a flaky one, the official SDK as the client, /healthz as an operator
 * reads it. A flaky model must cost its own traffic and nothing else.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultUpstream } from '../fixtures/fault-upstream.ts';
import type { FaultStep, FaultUpstream } from '../fixtures/fault-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const CLIENT_KEY = 'sk-breaker-client-0123456789abcdef';
const ADMIN_KEY = 'admin-breaker-0123456789abcdef';
const MODELS = ['test-chat', 'test-drop'];

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Channels A and B, same priority, both serving test-chat and test-drop. */
async function twoChannels(
  channelsFor: (a: FaultUpstream, b: FaultUpstream) => Record<string, unknown>[] = (a, b) => [
    { name: 'A', baseUrl: a.baseUrl, apiKey: 'sk-up-a', models: MODELS },
    { name: 'B', baseUrl: b.baseUrl, apiKey: 'sk-up-b', models: MODELS },
  ],
  server: Record<string, unknown> = {},
): Promise<{ relay: TestRelay; a: FaultUpstream; b: FaultUpstream; client: OpenAI }> {
  const a = await startFaultUpstream();
  const b = await startFaultUpstream();
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  const relay = await startTestRelay({
    server: { heartbeatMs: 60_000, ...server },
    channels: channelsFor(a, b),
    keys: [{ name: 'breakers', key: CLIENT_KEY }],
    admin: { keys: [{ name: 'ops', key: ADMIN_KEY }] },
  });
  cleanup.push(() => relay.close());
  return { relay, a, b, client: relay.client(CLIENT_KEY) };
}

/** The flaky model's streams break after three chunks: content reached the client, then nothing. */
function dropFlakyStreams(...ups: FaultUpstream[]): void {
  for (const up of ups) {
    up.setPicker((body) =>
      body.model === 'test-drop' ? { kind: 'drop-mid-stream', afterChunks: 3 } : undefined,
    );
  }
}

type Outcome = 'complete' | 'interrupted' | `${number} ${string}`;

async function streamOutcome(client: OpenAI, model: string): Promise<Outcome> {
  try {
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text === 'Hello from the fault upstream.' ? 'complete' : `0 short: ${text}`;
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status === undefined) {
      return (err.error as { code?: string } | undefined)?.code === 'stream_interrupted'
        ? 'interrupted'
        : `0 ${err.message}`;
    }
    if (err instanceof OpenAI.APIError) return `${err.status} ${err.code ?? ''}`;
    throw err;
  }
}

async function jsonOutcome(client: OpenAI, model: string): Promise<Outcome> {
  try {
    const res = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hi' }],
    });
    return res.choices[0]?.message.content === 'Hello from the fault upstream.'
      ? 'complete'
      : '0 short';
  } catch (err) {
    if (err instanceof OpenAI.APIError) return `${err.status} ${err.code ?? ''}`;
    throw err;
  }
}

/** One raw chat request: status, Retry-After and the error body as any HTTP client sees them. */
async function post(relay: TestRelay, model: string, stream = false) {
  const res = await fetch(`${relay.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'x' }] }),
  });
  const text = await res.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error, text };
}

const tally = (outcomes: readonly Outcome[]) =>
  outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});

async function health(relay: TestRelay, key?: string) {
  const res = await fetch(`${relay.baseUrl}/healthz`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return (await res.json()) as {
    status: string;
    channels?: { total: number; open: number };
    openChannels?: { channel: string; cause: string | null; retryAt: string | null }[];
    openModels?: { model: string; channels: string[] }[];
    openModelsTotal?: number;
  };
}

/** Every circuit in detail: the admin API's, not /healthz's. */
async function adminCircuits(relay: TestRelay) {
  const res = await fetch(`${relay.baseUrl}/admin/api/channels`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    channels: { circuits: { channel: string; model: string | null; state: string }[] }[];
  };
  return body.channels.flatMap((c) => c.circuits);
}

describe('one flaky model on two channels', () => {
  it('its streams dropping after content never get the healthy model refused, on either channel', async () => {
    const { relay, a, b, client } = await twoChannels();
    dropFlakyStreams(a, b);
    const healthy: Outcome[] = [];
    const flaky: Outcome[] = [];
    // Twenty rounds of the mix: flaky streams beside healthy JSON and streams.
    for (let round = 0; round < 20; round++) {
      const [drops, chats] = await Promise.all([
        Promise.all([1, 2, 3].map(() => streamOutcome(client, 'test-drop'))),
        Promise.all([
          jsonOutcome(client, 'test-chat'),
          jsonOutcome(client, 'test-chat'),
          streamOutcome(client, 'test-chat'),
          streamOutcome(client, 'test-chat'),
        ]),
      ]);
      flaky.push(...drops);
      healthy.push(...chats);
    }

    expect(tally(healthy)).toEqual({ complete: 80 });
    // The flaky model is cut off once its own circuits are open on both channels, and only then.
    const flakyTally = tally(flaky);
    expect(Object.keys(flakyTally).sort()).toEqual(['503 channels_unavailable', 'interrupted']);
    expect(flakyTally.interrupted).toBeGreaterThanOrEqual(10);
    expect(flaky.slice(-3)).toEqual(Array(3).fill('503 channels_unavailable'));
    // Both channels carried healthy traffic throughout.
    const served = (up: FaultUpstream) =>
      up.requests.filter((r) => (r.body as { model?: string }).model === 'test-chat').length;
    expect(served(a) + served(b)).toBe(80);
    expect(served(a)).toBeGreaterThan(10);
    expect(served(b)).toBeGreaterThan(10);

    // One model's trouble is not the relay's: `ok`, with the model named for operators.
    expect(await health(relay)).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
    const keyed = await health(relay, CLIENT_KEY);
    expect(keyed.status).toBe('ok');
    expect(keyed.openModels).toEqual([
      { model: 'test-drop', channels: expect.arrayContaining(['A', 'B']) },
    ]);
    expect(keyed).toMatchObject({ channels: { total: 2, open: 0 }, openChannels: [] });
    const circuits = await adminCircuits(relay);
    for (const channel of ['A', 'B']) {
      expect(circuits).toContainEqual(
        expect.objectContaining({ channel, model: null, state: 'closed' }),
      );
    }

    // Every request, refused or not, has its usage row; interrupted streams bill as partial.
    const store = relay.store();
    const rows = await eventually(() => {
      const all = store.listUsage({ limit: 1_000 });
      expect(all).toHaveLength(140);
      return all;
    });
    expect(rows.filter((r) => r.errorCode === 'stream_interrupted').map((r) => r.source)).toEqual(
      Array(flakyTally.interrupted).fill('partial'),
    );
  });

  it('a model refused everywhere gets a 503 with Retry-After, in the contract shape', async () => {
    const { relay, a, b } = await twoChannels();
    dropFlakyStreams(a, b);
    const client = relay.client(CLIENT_KEY);
    for (let i = 0; i < 12; i++) await streamOutcome(client, 'test-drop');
    const res = await fetch(`${relay.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-drop', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(503);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(await res.json()).toMatchObject({
      error: { code: 'channels_unavailable', type: 'upstream_error' },
      request_id: res.headers.get('x-request-id'),
    });
  });
});

describe('whole channels', () => {
  it('a channel nobody can connect to is `degraded` on /healthz and skipped, the other serves', async () => {
    const { relay, client } = await twoChannels((_a, b) => [
      { name: 'A', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-up-a', models: MODELS },
      { name: 'B', baseUrl: b.baseUrl, apiKey: 'sk-up-b', models: MODELS, priority: 1 },
    ]);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await jsonOutcome(client, 'test-chat'));
    expect(tally(outcomes)).toEqual({ complete: 4 });
    expect(await health(relay)).toMatchObject({ status: 'degraded' });
    const keyed = await health(relay, CLIENT_KEY);
    expect(keyed).toMatchObject({
      channels: { total: 2, open: 1 },
      openChannels: [{ channel: 'A', cause: 'connection', retryAt: expect.any(String) }],
    });
  });

  it('a client key sees counts and the open circuits, bounded; the admin API has every circuit', async () => {
    const { relay, a } = await twoChannels(
      (a) => [{ name: 'A', baseUrl: a.baseUrl, apiKey: 'sk-up-a', models: ['*'] }],
      { maxAttemptsPerChannel: 1, breaker: { consecutiveFailures: 1 } },
    );
    // Names clients made up on a pattern channel, each failing once: 30 open circuits.
    a.setPicker((body) =>
      body.model === 'test-chat' ? undefined : { kind: 'status', status: 500 },
    );
    const names = Array.from({ length: 30 }, (_, i) => `made-up-${i}`);
    for (const name of names) await post(relay, name);
    const keyed = await health(relay, CLIENT_KEY);
    expect(keyed).toMatchObject({
      status: 'ok',
      channels: { total: 1, open: 0 },
      openModelsTotal: 30,
    });
    expect(keyed.openModels).toHaveLength(20);
    expect(Object.keys(keyed).sort()).toEqual(
      [
        'channels',
        'openChannels',
        'openModels',
        'openModelsTotal',
        'status',
        'uptimeSeconds',
      ].sort(),
    );
    const detailed = await adminCircuits(relay);
    expect(detailed.filter((c) => c.model?.startsWith('made-up-'))).toHaveLength(30);
  });

  it('a channel circuit that half-opened and was never tried again stops counting as `degraded`', async () => {
    const { relay, client } = await twoChannels(
      (_a, b) => [
        { name: 'A', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-up-a', models: MODELS },
        { name: 'B', baseUrl: b.baseUrl, apiKey: 'sk-up-b', models: MODELS, priority: 1 },
      ],
      { breaker: { windowMs: 1_000, cooldownMs: 200 } },
    );
    for (let i = 0; i < 4; i++) await jsonOutcome(client, 'test-chat');
    expect((await health(relay)).status).toBe('degraded');
    await new Promise((r) => setTimeout(r, 1_300));
    expect((await health(relay)).status).toBe('ok');
  });

  it('a dead channel takes one panic request at a time; the others get a 503 with Retry-After', async () => {
    // A port nobody listens on (refused), later taken by a server that accepts and never answers.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const up = await startTestRelay({
      server: { heartbeatMs: 60_000, maxAttemptsPerChannel: 1 },
      channels: [
        {
          name: 'A',
          baseUrl: `http://127.0.0.1:${port}/v1`,
          apiKey: 'sk-up-a',
          models: MODELS,
          timeouts: { connectMs: 1_000, firstByteMs: 1_500, idleMs: 1_000 },
        },
      ],
      keys: [{ name: 'breakers', key: CLIENT_KEY }],
    });
    cleanup.push(() => up.close());
    for (let i = 0; i < 3; i++) {
      expect(await post(up, 'test-chat')).toMatchObject({
        status: 502,
        error: { code: 'upstream_unreachable' },
      });
    }
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    cleanup.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const panicPass = post(up, 'test-chat');
    await eventually(() => expect(sockets).toHaveLength(1));
    const others = await Promise.all([post(up, 'test-chat'), post(up, 'test-drop')]);
    for (const other of others) {
      expect(other).toMatchObject({ status: 503, error: { code: 'channels_unavailable' } });
      expect(Number(other.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(sockets).toHaveLength(1);
    expect(await panicPass).toMatchObject({ status: 504 });
  });

  it('with every channel unreachable, requests still try the least recently failed one: 502, not a 503 storm', async () => {
    const { relay, client } = await twoChannels(() => [
      { name: 'A', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-up-a', models: MODELS },
      { name: 'B', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-up-b', models: MODELS },
    ]);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await jsonOutcome(client, 'test-chat'));
    expect(tally(outcomes)).toEqual({ '502 upstream_unreachable': 6 });
    expect((await health(relay)).status).toBe('degraded');
  });
});

describe('what an upstream error blames', () => {
  it('a 403 for a model the project may not use refuses that model only, as a 404', async () => {
    const { relay, a, b } = await twoChannels();
    for (const up of [a, b]) {
      up.setPicker((body) =>
        body.model === 'test-drop'
          ? {
              kind: 'status',
              status: 403,
              error: {
                message: 'Project `proj_abc` does not have access to model `test-drop`',
                type: 'invalid_request_error',
                code: 'model_not_found',
              },
            }
          : undefined,
      );
    }
    const refused = await post(relay, 'test-drop');
    expect(refused).toMatchObject({ status: 404, error: { code: 'model_not_found' } });
    for (let i = 0; i < 4; i++) expect((await post(relay, 'test-chat')).status).toBe(200);
    expect((await health(relay)).status).toBe('ok');
  });

  it('a model whose requests are reset before any answer opens its own circuit, not the channel', async () => {
    const { relay, a } = await twoChannels(
      (a) => [{ name: 'A', baseUrl: a.baseUrl, apiKey: 'sk-up-a', models: MODELS }],
      { maxAttemptsPerChannel: 1 },
    );
    // The upstream takes the connection and the request, then hangs up before answering.
    a.setPicker((body) => (body.model === 'test-drop' ? { kind: 'reset' } : undefined));
    for (let i = 0; i < 6; i++) await post(relay, 'test-drop');
    expect((await post(relay, 'test-chat')).status).toBe(200);
    const keyed = await health(relay, CLIENT_KEY);
    expect(keyed).toMatchObject({ status: 'ok', openModels: [{ model: 'test-drop' }] });
  });

  it('a model no channel serves stays a 404 once its circuits remember it, and costs no more upstream calls', async () => {
    const { relay, a, b } = await twoChannels();
    for (const up of [a, b]) {
      up.setPicker((body) =>
        body.model === 'test-drop'
          ? {
              kind: 'status',
              status: 404,
              error: { message: 'The model `test-drop` does not exist', code: 'model_not_found' },
            }
          : undefined,
      );
    }
    for (let i = 0; i < 8; i++) {
      expect(await post(relay, 'test-drop')).toMatchObject({
        status: 404,
        error: { code: 'model_not_found' },
        retryAfter: null,
      });
    }
    const asked = (up: FaultUpstream) =>
      up.requests.filter((r) => (r.body as { model?: string }).model === 'test-drop').length;
    expect(asked(a)).toBe(5);
    expect(asked(b)).toBe(5);
    expect((await post(relay, 'test-chat')).status).toBe(200);
  });

  it('a rejected key is the news, not the model: 502, then a 503 that says the keys were rejected', async () => {
    const { relay, a, b } = await twoChannels();
    for (const up of [a, b]) {
      up.setDefault({
        kind: 'status',
        status: 401,
        error: { message: 'Incorrect API key provided: sk-up-***', code: 'invalid_api_key' },
      });
    }
    const first = await post(relay, 'test-chat');
    expect(first).toMatchObject({ status: 502, error: { code: 'upstream_auth_failed' } });
    expect(first.error?.message).not.toMatch(/model/i);
    const then = await post(relay, 'test-chat');
    expect(then).toMatchObject({ status: 503, error: { code: 'channels_unavailable' } });
    expect(then.error?.message).toMatch(/key/);
    expect(then.error?.message).not.toMatch(/model failed|cooling down/);
    expect(Number(then.retryAfter)).toBeGreaterThan(0);
  });
});

describe('probes', () => {
  it('a recovered model is served again as soon as its probe streams content, not when the stream ends', async () => {
    const up = await startFaultUpstream();
    cleanup.push(() => up.close());
    const relay = await startTestRelay({
      server: { heartbeatMs: 60_000, maxAttemptsPerChannel: 1, breaker: { cooldownMs: 1_000 } },
      channels: [{ name: 'A', baseUrl: up.baseUrl, apiKey: 'sk-up-a', models: ['test-chat'] }],
      keys: [{ name: 'breakers', key: CLIENT_KEY }],
    });
    cleanup.push(() => relay.close());
    up.script(...Array<FaultStep>(5).fill({ kind: 'status', status: 500 }));
    for (let i = 0; i < 5; i++) expect((await post(relay, 'test-chat')).status).toBe(502);
    expect((await post(relay, 'test-chat')).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1_100));
    // The upstream has recovered; the probe is a slow stream (20 words, 100 ms apart).
    up.setDefault({ kind: 'ok', chunkDelayMs: 100, content: Array(20).fill('w').join(' ') });
    const probe = post(relay, 'test-chat', true);
    await up.waitForRequests(6);
    await new Promise((r) => setTimeout(r, 300));
    const during = await post(relay, 'test-chat');
    expect(during.status).toBe(200);
    const streamed = await probe;
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('[DONE]');
  });
});

describe('circuits follow the upstream model', () => {
  it('an alias and its target share one circuit: their failures add up, and nothing else is touched', async () => {
    const up = await startFaultUpstream();
    cleanup.push(() => up.close());
    up.setPicker((body) =>
      body.model === 'test-drop' ? { kind: 'status', status: 500 } : undefined,
    );
    const relay = await startTestRelay({
      server: { heartbeatMs: 60_000, maxAttemptsPerChannel: 1 },
      channels: [
        {
          name: 'A',
          baseUrl: up.baseUrl,
          apiKey: 'sk-up-a',
          models: MODELS,
          modelMap: { fast: 'test-drop', quick: 'test-drop' },
        },
      ],
      keys: [{ name: 'breakers', key: CLIENT_KEY }],
    });
    cleanup.push(() => relay.close());
    for (const model of ['fast', 'test-drop', 'quick', 'fast', 'test-drop']) {
      expect((await post(relay, model)).status).toBe(502);
    }
    // Five failures of one upstream model, under three names: its circuit is open for all three.
    for (const model of ['fast', 'quick', 'test-drop']) {
      expect(await post(relay, model)).toMatchObject({
        status: 503,
        error: { code: 'channels_unavailable' },
      });
    }
    expect((await post(relay, 'test-chat')).status).toBe(200);
    const keyed = await health(relay, CLIENT_KEY);
    expect(keyed).toMatchObject({
      status: 'ok',
      openModels: [{ model: 'test-drop', channels: ['A'] }],
    });
  });
});
