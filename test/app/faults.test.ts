/**
 * Fault injection through the whole relay: real loopback upstreams that fail in scripted ways,
 * the official SDK (or raw fetch, to see the exact SSE bytes) as the client, and the usage rows
 * in the relay's own database. Every case checks what the client saw, which channels were
 * called, and the row written.
 */
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startFaultUpstream } from '../fixtures/fault-upstream.ts';
import { sseWrite, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { Override } from '../fixtures/openai-upstream.ts';
import type { FaultStep, FaultUpstream } from '../fixtures/fault-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const CLIENT_KEY = 'sk-fault-client-0123456789abcdef';
const PRIMARY_KEY = 'sk-provider-primary-SECRET-aaaa1111';
const BACKUP_KEY = 'sk-provider-backup-SECRET-bbbb2222';
const ORIGIN_SECRET = 'origin-secret-SECRET-cccc3333';
const allLogs: string[] = [];

interface Rig {
  readonly relay: TestRelay;
  readonly primary: FaultUpstream;
  readonly backup: FaultUpstream;
  client(): OpenAI;
  raw(
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ status: number; text: string }>;
  lastRow(): Promise<ReturnType<ReturnType<TestRelay['store']>['listUsage']>[number]>;
  close(): Promise<void>;
}

/** A relay with two channels for `m`: primary (priority 0) and backup (priority 1), each its own upstream. */
async function rig(
  server: Record<string, unknown> = {},
  timeouts = { connectMs: 1000, firstByteMs: 500, idleMs: 500 },
): Promise<Rig> {
  const primary = await startFaultUpstream();
  const backup = await startFaultUpstream();
  const relay = await startTestRelay(
    {
      server: { originSecret: 'env:ORIGIN', heartbeatMs: 10_000, ...server },
      channels: [
        {
          name: 'primary',
          baseUrl: primary.baseUrl,
          apiKey: 'env:PRIMARY',
          models: ['m'],
          priority: 0,
          timeouts,
        },
        {
          name: 'backup',
          baseUrl: backup.baseUrl,
          apiKey: 'env:BACKUP',
          models: ['m'],
          priority: 1,
          timeouts,
        },
      ],
      keys: [{ name: 'fault-client', key: CLIENT_KEY, quota: 10 }],
      prices: { m: { input: 1, output: 1 } },
    },
    { PRIMARY: PRIMARY_KEY, BACKUP: BACKUP_KEY, ORIGIN: ORIGIN_SECRET },
  );
  const headers = {
    authorization: `Bearer ${CLIENT_KEY}`,
    'content-type': 'application/json',
    'x-origin-secret': ORIGIN_SECRET,
  };
  return {
    relay,
    primary,
    backup,
    client: () =>
      new OpenAI({
        apiKey: CLIENT_KEY,
        baseURL: `${relay.baseUrl}/v1`,
        maxRetries: 0,
        defaultHeaders: { 'x-origin-secret': ORIGIN_SECRET },
      }),
    raw: async (body, signal) => {
      const res = await fetch(`${relay.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body }),
        ...(signal && { signal }),
      });
      return { status: res.status, text: await res.text() };
    },
    lastRow: async () => {
      const store = relay.store();
      return eventually(() => {
        const row = store.listUsage({ limit: 1 })[0];
        if (!row || row.endpoint !== '/chat/completions') throw new Error('no usage row yet');
        return row;
      });
    },
    close: async () => {
      allLogs.push(...relay.rawLog);
      await relay.close();
      await primary.close();
      await backup.close();
    },
  };
}

async function withRig(fn: (r: Rig) => Promise<void>, server?: Record<string, unknown>) {
  const r = await rig(server);
  try {
    await fn(r);
  } finally {
    await r.close();
  }
}

const events = (text: string) => text.split('\n\n').filter((e) => e.length > 0);
const dataOf = (text: string) =>
  events(text)
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
const contentOf = (text: string) =>
  dataOf(text)
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as { choices?: { delta?: { content?: string } }[] })
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');

const chat = (r: Rig, stream = false) =>
  r.client().chat.completions.create({
    model: 'm',
    messages: [{ role: 'user', content: 'hi' }],
    stream,
  } as never) as Promise<OpenAI.ChatCompletion>;

describe('retries and failover before any content', () => {
  it('a 500 is retried on the same channel, and the retry answers', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'status', status: 500 }, { kind: 'ok' });
      const res = await chat(r);
      expect(res.choices[0]?.message.content).toBe('Hello from the fault upstream.');
      expect(r.primary.requests).toHaveLength(2);
      expect(r.backup.requests).toHaveLength(0);
      expect(await r.lastRow()).toMatchObject({
        channel: 'primary',
        status: 200,
        source: 'upstream',
        detail: { attempts: 2 },
      });
    }));

  it('a channel that keeps failing is left for the next priority, never tried twice more', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'status', status: 502 }, { kind: 'status', status: 503 });
      const res = await chat(r);
      expect(res.choices[0]?.message.content).toBe('Hello from the fault upstream.');
      expect(r.primary.requests).toHaveLength(2);
      expect(r.backup.requests).toHaveLength(1);
      expect(await r.lastRow()).toMatchObject({
        channel: 'backup',
        status: 200,
        detail: { attempts: 3 },
      });
    }));

  it('a 429 waits as long as retry-after-ms asks before trying again', () =>
    withRig(async (r) => {
      r.primary.script(
        { kind: 'status', status: 429, headers: { 'retry-after-ms': '300' } },
        { kind: 'ok' },
      );
      await chat(r);
      expect(r.primary.requests).toHaveLength(2);
      const gap = r.primary.requests[1]!.receivedAt - r.primary.requests[0]!.receivedAt;
      expect(gap).toBeGreaterThanOrEqual(280);
      expect(await r.lastRow()).toMatchObject({
        channel: 'primary',
        status: 200,
        detail: { attempts: 2 },
      });
    }));

  it('an upstream that hangs before its headers hits the first-byte timeout and the next channel answers', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'hang-before-headers' });
      const res = await chat(r);
      expect(res.choices[0]?.message.content).toBe('Hello from the fault upstream.');
      expect(r.primary.requests).toHaveLength(1);
      expect(r.backup.requests).toHaveLength(1);
      await r.primary.requests[0]!.closed;
      expect(await r.lastRow()).toMatchObject({ channel: 'backup', status: 200 });
    }));

  it('a stream that dies after its role chunk but before any content is retried invisibly', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'drop-mid-stream', afterChunks: 1 });
      const { status, text } = await r.raw({ stream: true });
      expect(status).toBe(200);
      expect(contentOf(text)).toBe('Hello from the fault upstream.');
      // one role chunk only: the dead attempt's held chunk was never sent
      expect(dataOf(text).filter((d) => d.includes('"role":"assistant"'))).toHaveLength(1);
      expect(dataOf(text).at(-1)).toBe('[DONE]');
      // a dropped connection is worth one more try on the same channel
      expect(r.primary.requests).toHaveLength(2);
      expect(await r.lastRow()).toMatchObject({
        channel: 'primary',
        status: 200,
        detail: { attempts: 2 },
      });
    }));

  it.each<[string, FaultStep]>([
    ['malformed SSE', { kind: 'malformed-sse' }],
    [
      'an error object inside a 200 stream',
      { kind: 'stream-error', error: { message: 'overloaded', code: 'server_error' } },
    ],
  ])('%s before any content fails over to the next channel', (_name, step) =>
    withRig(async (r) => {
      r.primary.script(step);
      const { status, text } = await r.raw({ stream: true });
      expect(status).toBe(200);
      expect(contentOf(text)).toBe('Hello from the fault upstream.');
      expect(r.primary.requests).toHaveLength(1);
      expect(r.backup.requests).toHaveLength(1);
      expect(await r.lastRow()).toMatchObject({
        channel: 'backup',
        status: 200,
        source: 'upstream',
        detail: { attempts: 2 },
      });
    }),
  );

  it("a 400 is the client's own mistake: passed through, not retried, no failover", () =>
    withRig(async (r) => {
      r.primary.script({
        kind: 'status',
        status: 400,
        error: { message: "Invalid 'temperature'", code: 'invalid_value' },
      });
      await expect(chat(r)).rejects.toMatchObject({
        status: 400,
        code: 'invalid_value',
        message: expect.stringContaining("Invalid 'temperature'"),
      });
      expect(r.primary.requests).toHaveLength(1);
      expect(r.backup.requests).toHaveLength(0);
      expect(await r.lastRow()).toMatchObject({ status: 400, costMicros: 0 });
    }));

  it('when every channel fails, the client gets a 502 in the contract shape and pays nothing', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
      r.backup.script({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
      const { status, text } = await r.raw({});
      expect(status).toBe(502);
      expect(JSON.parse(text)).toMatchObject({
        error: { code: 'upstream_error', type: 'upstream_error' },
        request_id: expect.stringMatching(/^req_/),
      });
      expect(await r.lastRow()).toMatchObject({
        status: 502,
        costMicros: 0,
        source: 'none',
        detail: { attempts: 4 },
      });
      expect(r.relay.store().getKey('fault-client')!.reservedMicros).toBe(0);
    }));
});

describe('edges found in review', () => {
  it("a redirect from a misconfigured upstream is the channel's failure, not the client's status", () =>
    withRig(async (r) => {
      r.primary.script({
        kind: 'status',
        status: 301,
        headers: { location: 'https://elsewhere.example/v1' },
        body: '',
      });
      const res = await chat(r);
      expect(res.choices[0]?.message.content).toBe('Hello from the fault upstream.');
      expect(r.backup.requests).toHaveLength(1);
    }));

  it('running out of time budget is a 504 upstream_timeout, never a "client closed" 499', async () => {
    const r = await rig(
      { requestBudgetMs: 400 },
      { connectMs: 1000, firstByteMs: 5000, idleMs: 5000 },
    );
    try {
      r.primary.script({ kind: 'hang-before-headers' });
      const { status, text } = await r.raw({});
      expect(status).toBe(504);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'upstream_timeout' } });
      expect(await r.lastRow()).toMatchObject({ status: 504, errorCode: 'upstream_timeout' });
    } finally {
      await r.close();
    }
  });

  it('a budget that runs out on the last channel is a 504, whatever an earlier channel said', async () => {
    const r = await rig(
      { requestBudgetMs: 400 },
      { connectMs: 1000, firstByteMs: 5000, idleMs: 5000 },
    );
    try {
      r.primary.script({
        kind: 'status',
        status: 404,
        error: { message: 'The model `m` does not exist', code: 'model_not_found' },
      });
      r.backup.script({ kind: 'hang-before-headers' });
      const { status, text } = await r.raw({});
      expect(status).toBe(504);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'upstream_timeout' } });
    } finally {
      await r.close();
    }
  });

  it('a stream answered with a whole JSON body (after heartbeats went out) is written as a stream of that answer, and billed', () =>
    withRig(
      async (r) => {
        r.primary.script({
          kind: 'ok',
          stream: false,
          headersDelayMs: 350,
          content: 'whole answer',
        });
        const { status, text } = await r.raw({ stream: true });
        expect(status).toBe(200);
        expect(events(text)[0]).toBe(': keep-alive');
        const data = dataOf(text);
        expect(data.at(-1)).toBe('[DONE]');
        const content = data
          .slice(0, -1)
          .map(
            (d) =>
              (JSON.parse(d) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta
                ?.content ?? '',
          )
          .join('');
        expect(content).toBe('whole answer');
        expect(await r.lastRow()).toMatchObject({ status: 200, source: 'upstream' });
        expect((await r.lastRow()).costMicros).toBeGreaterThan(0);
        expect(r.relay.store().getKey('fault-client')!.reservedMicros).toBe(0);
      },
      { heartbeatMs: 100 },
    ));
});

describe('connection reuse', () => {
  it('a finished stream leaves its upstream connection open for the next request, even when the body ends after [DONE]', async () => {
    // The closing chunk arrives in its own packet after [DONE], as it can from a real provider.
    const ports: number[] = [];
    const ended: Promise<void>[] = [];
    const upstream = await startOpenAiUpstream({ apiKey: 'k' });
    const lateEnd: Override = (req, res) => {
      ports.push(res.socket!.remotePort!);
      ended.push(new Promise((resolve) => res.on('finish', () => resolve())));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sseWrite(res, {
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }],
      });
      sseWrite(res, '[DONE]');
      setTimeout(() => res.end(), 50);
      return req.path !== '';
    };
    upstream.overrides.push(lateEnd, lateEnd);
    const relay = await startTestRelay({
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'k', models: ['m'] }],
      keys: [{ name: 'reuse', key: CLIENT_KEY }],
    });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${relay.baseUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'm',
            stream: true,
            messages: [{ role: 'user', content: 'x' }],
          }),
        });
        expect(await res.text()).toContain('data: [DONE]');
        // The client has its answer before the upstream body ends; the relay drains it in the
        // background, so the next request is sent once the upstream is really done.
        await ended[i];
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(ports).toHaveLength(2);
      expect(ports[1]).toBe(ports[0]);
    } finally {
      allLogs.push(...relay.rawLog);
      await relay.close();
      await upstream.close();
    }
  });
});

describe('failures after content was sent', () => {
  it.each<[string, FaultStep, number, string]>([
    [
      'hangs mid-stream (idle timeout)',
      { kind: 'hang-mid-stream', afterChunks: 3 },
      504,
      'stream_interrupted',
    ],
    [
      'drops its socket mid-stream',
      { kind: 'drop-mid-stream', afterChunks: 3 },
      502,
      'stream_interrupted',
    ],
    [
      'sends an error object mid-stream',
      { kind: 'stream-error', afterChunks: 3, error: { message: 'model crashed' } },
      502,
      'upstream_error',
    ],
  ])(
    'an upstream that %s ends the stream with an error event and no [DONE]',
    (_name, step, rowStatus, code) =>
      withRig(async (r) => {
        r.primary.script(step);
        const { status, text } = await r.raw({ stream: true });
        expect(status).toBe(200);
        const data = dataOf(text);
        expect(data).not.toContain('[DONE]');
        expect(contentOf(text.replace(/data: \{"error".*\n\n$/, ''))).toBe('one two ');
        const last = JSON.parse(data.at(-1)!) as {
          error: { code: string; message: string };
          request_id: string;
        };
        expect(last.error.code).toBe(code);
        expect(r.backup.requests).toHaveLength(0);
        expect(await r.lastRow()).toMatchObject({
          channel: 'primary',
          status: rowStatus,
          source: 'partial',
          errorCode: code,
        });
      }),
  );

  it('the SDK surfaces that error event as an exception instead of a finished answer', () =>
    withRig(async (r) => {
      r.primary.script({ kind: 'drop-mid-stream', afterChunks: 3 });
      const stream = await r.client().chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let content = '';
      await expect(
        (async () => {
          for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
        })(),
      ).rejects.toThrow(/stream was interrupted \(its connection closed before the end\)/);
      expect(content).toBe('one two ');
    }));
});

describe('heartbeats while a model thinks', () => {
  it('sends SSE comments until the first token, then the whole answer', () =>
    withRig(
      async (r) => {
        r.primary.script({ kind: 'ok', firstChunkDelayMs: 450 });
        const { status, text } = await r.raw({ stream: true });
        expect(status).toBe(200);
        const all = events(text);
        expect(all[0]).toBe(': keep-alive');
        expect(all.filter((e) => e === ': keep-alive').length).toBeGreaterThanOrEqual(2);
        expect(contentOf(text)).toBe('Hello from the fault upstream.');
      },
      { heartbeatMs: 100 },
    ));

  it('still fails over after heartbeats went out, since no content had', () =>
    withRig(
      async (r) => {
        r.primary.script({ kind: 'hang-before-headers' });
        const { text } = await r.raw({ stream: true });
        expect(events(text)[0]).toBe(': keep-alive');
        expect(contentOf(text)).toBe('Hello from the fault upstream.');
        expect(dataOf(text).at(-1)).toBe('[DONE]');
        expect(r.backup.requests).toHaveLength(1);
      },
      { heartbeatMs: 100 },
    ));
});

describe('client disconnects', () => {
  it('a client that hangs up while the upstream has not answered closes its socket within 1 s; nothing is failed over', async () => {
    // Limits far above 1 s, so only the hang-up can close the socket in time.
    const r = await rig({}, { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 });
    try {
      r.primary.script({ kind: 'hang-before-headers' });
      const abort = new AbortController();
      const asked = r.raw({}, abort.signal).catch((err: unknown) => err);
      await eventually(() => {
        if (r.primary.requests.length === 0) throw new Error('not at the upstream yet');
      });
      const hungUpAt = performance.now();
      abort.abort();
      expect(await asked).toMatchObject({ name: 'AbortError' });
      const closedAt = await r.primary.requests[0]!.closed;
      expect(closedAt - hungUpAt).toBeLessThan(1000);
      const row = await r.lastRow();
      expect(row).toMatchObject({ status: 499, costMicros: 0 });
      expect(r.backup.requests).toHaveLength(0);
      expect(r.relay.store().getKey('fault-client')!.reservedMicros).toBe(0);
    } finally {
      await r.close();
    }
  });

  it('closes the upstream socket within 1 s and bills what was streamed as partial', () =>
    withRig(async (r) => {
      r.primary.script({
        kind: 'ok',
        content: 'a b c d e f g h i j k l m n o p',
        chunkDelayMs: 200,
      });
      const abort = new AbortController();
      const res = await fetch(`${r.relay.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${CLIENT_KEY}`,
          'content-type': 'application/json',
          'x-origin-secret': ORIGIN_SECRET,
        },
        body: JSON.stringify({
          model: 'm',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('"content":"b '))
        seen += new TextDecoder().decode((await reader.read()).value);
      const hungUpAt = performance.now();
      abort.abort();
      const closedAt = await r.primary.requests[0]!.closed;
      expect(closedAt - hungUpAt).toBeLessThan(1000);
      const row = await r.lastRow();
      expect(row).toMatchObject({
        status: 499,
        source: 'partial',
        errorCode: 'client_closed_request',
      });
      expect(row.completionTokens).toBeGreaterThan(0);
      expect(row.costMicros).toBeGreaterThan(0);
      expect(r.relay.store().getKey('fault-client')!.reservedMicros).toBe(0);
    }));
});

describe('circuit breakers', () => {
  it('a model failing again and again on a channel is skipped there until it cools down, and /healthz names it', () =>
    withRig(async (r) => {
      r.primary.setDefault({ kind: 'status', status: 500 });
      // two attempts per request on primary: three requests put five failures in a row
      for (let i = 0; i < 3; i++) await chat(r);
      const calls = r.primary.requests.length;
      expect(calls).toBe(5);
      await chat(r);
      expect(r.primary.requests.length).toBe(calls);
      // One model's circuit is not the relay's health.
      const anonymous = (await (await fetch(`${r.relay.baseUrl}/healthz`)).json()) as Record<
        string,
        unknown
      >;
      expect(anonymous).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
      const withKey = await fetch(`${r.relay.baseUrl}/healthz`, {
        headers: { authorization: `Bearer ${CLIENT_KEY}` },
      });
      expect(await withKey.json()).toMatchObject({
        status: 'ok',
        channels: { open: 0 },
        openChannels: [],
        openModels: [{ model: 'm', channels: ['primary'] }],
        openModelsTotal: 1,
      });
    }));

  it('a rejected provider key marks the channel dead at once; clients never see a 401 for it', () =>
    withRig(async (r) => {
      r.primary.script({
        kind: 'status',
        status: 401,
        error: { message: `Incorrect API key provided: ${PRIMARY_KEY}`, code: 'invalid_api_key' },
      });
      const first = await chat(r);
      expect(first.choices[0]?.message.content).toBe('Hello from the fault upstream.');
      await chat(r);
      expect(r.primary.requests).toHaveLength(1);
      expect(r.backup.requests).toHaveLength(2);
    }));
});

afterAll(() => {
  // Everything every relay above logged: no client key, provider key or origin secret, in any form.
  expect(allLogs.length).toBeGreaterThan(50);
  const text = allLogs.join('\n');
  for (const secret of [CLIENT_KEY, PRIMARY_KEY, BACKUP_KEY, ORIGIN_SECRET, 'SECRET-']) {
    expect(text).not.toContain(secret);
  }
});
