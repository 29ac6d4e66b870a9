/**
 * Graceful shutdown of the real entry point: `node app/src/server.ts` as a child process, as
 * systemd runs it, with a loopback upstream whose streams take a while. SIGTERM while streams are
 * in flight must let them finish (or, past server.shutdownGraceMs, cut them), refuse new
 * connections, exit 0, and leave a usage row for every request.
 */
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually } from '../fixtures/relay-harness.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const CLIENT_KEY = 'sk-shutdown-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-shutdown-1';
/** 20 chunks of 4 characters: the fixture streams a reply 4 characters per chunk. */
const REPLY = Array.from({ length: 20 }, (_, i) => `w${String(i).padStart(2, '0')} `).join('');

interface Child {
  readonly proc: RelayProcess['proc'];
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly stdout: string[];
  readonly exited: RelayProcess['exited'];
}

async function startChild(upstream: FakeUpstream, server: Record<string, unknown>): Promise<Child> {
  const relay = await spawnRelay({
    config: {
      server,
      channels: [
        {
          name: 'loopback',
          type: 'openai',
          baseUrl: upstream.url,
          apiKey: 'env:TEST_SHUTDOWN_UPSTREAM_KEY',
          models: ['gpt-4o-mini'],
        },
      ],
      keys: [{ name: 'alice', key: CLIENT_KEY, models: ['*'] }],
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
    },
    env: { TEST_SHUTDOWN_UPSTREAM_KEY: UPSTREAM_KEY },
  });
  return {
    proc: relay.proc,
    baseUrl: relay.baseUrl,
    dataDir: relay.dataDir,
    stdout: relay.output,
    exited: relay.exited,
  };
}

interface OpenStream {
  readonly requestId: string;
  /** Resolves with the first body bytes. */
  readonly first: Promise<void>;
  /** Resolves with the whole SSE text, or what arrived before the connection was cut. */
  readonly text: Promise<{ text: string; cut: boolean }>;
}

async function openStream(baseUrl: string): Promise<OpenStream> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'count' }],
    }),
    signal: AbortSignal.timeout(20_000),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let gotFirst!: () => void;
  const first = new Promise<void>((resolve) => (gotFirst = resolve));
  const all = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { text, cut: false };
        text += decoder.decode(value, { stream: true });
        gotFirst();
      }
    } catch {
      return { text, cut: true };
    }
  })();
  return { requestId: res.headers.get('x-request-id')!, first, text: all };
}

/** The assistant text of an SSE chat stream. */
function contentOf(sse: string): string {
  let out = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(6)) as {
      choices?: { delta?: { content?: string | null } }[];
    };
    out += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}

/** Whether a new TCP connection to the port is accepted (and kept) within a short bound. */
function acceptsConnections(baseUrl: string): Promise<boolean> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: Number(port) });
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), 1_000);
    s.on('connect', () => {
      // Connected: ask for /healthz and see whether an answer comes back.
      s.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
    });
    s.on('data', () => done(true));
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

/** Sends SIGTERM and checks that the port stops taking connections; returns when it was sent. */
async function terminate(child: Child): Promise<number> {
  const termAt = performance.now();
  expect(child.proc.kill('SIGTERM')).toBe(true);
  await new Promise((r) => setTimeout(r, 100));
  expect(await acceptsConnections(child.baseUrl), 'a new connection after SIGTERM').toBe(false);
  return termAt;
}

/** Waits (at most `withinMs`) for the process to exit, and checks it exited cleanly in time. */
async function expectCleanExit(child: Child, termAt: number, withinMs: number): Promise<void> {
  const exit = await Promise.race([
    child.exited,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`relay did not exit within ${withinMs} ms of SIGTERM`)),
        withinMs,
      ),
    ),
  ]);
  expect(exit, child.stdout.slice(-5).join('\n')).toMatchObject({ code: 0, signal: null });
  expect(exit.at - termAt).toBeLessThan(withinMs);
}

/** The usage rows the child left in its database. */
function usageRowsOf(child: Child, limit = 100) {
  const store = new SqliteStore({ path: join(child.dataDir, 'relay.db') });
  try {
    return store.listUsage({ limit });
  } finally {
    store.close();
  }
}

/** The chat requests the relay's `request metrics` lines count, and the latencies they carry. */
function metricsOf(child: Child): { requests: number; latencies: number } {
  const docs = child.stdout
    .filter((l) => l.includes('"msg":"request metrics"'))
    .map((l) => JSON.parse(l) as { Model: string; Requests: number; Latency: number[] })
    .filter((m) => m.Model === 'gpt-4o-mini');
  return {
    requests: docs.reduce((n, m) => n + m.Requests, 0),
    latencies: docs.flatMap((m) => m.Latency).length,
  };
}

describe('SIGTERM on the real relay process', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A streaming upstream (chunks `chunkDelayMs` apart) and the relay in front of it. */
  async function startRelayOver(chunkDelayMs: number, server: Record<string, unknown>) {
    const upstream = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      reply: REPLY,
      chunkDelayMs,
    });
    cleanup.push(() => upstream.close());
    const child = await startChild(upstream, server);
    cleanup.push(() => void (child.proc.exitCode === null && child.proc.kill('SIGKILL')));
    return child;
  }

  it('lets 20 active streams finish, refuses new connections, exits 0 and loses no usage row', async () => {
    const child = await startRelayOver(50, { shutdownGraceMs: 15_000 });

    const streams = await Promise.all(Array.from({ length: 20 }, () => openStream(child.baseUrl)));
    await Promise.all(streams.map((s) => s.first));
    const termAt = await terminate(child);

    const results = await Promise.all(streams.map((s) => s.text));
    for (const r of results) {
      expect(r.cut).toBe(false);
      expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(contentOf(r.text)).toBe(REPLY);
    }
    await expectCleanExit(child, termAt, 10_000);

    const rows = usageRowsOf(child).filter((r) => r.endpoint === '/chat/completions');
    expect(rows.map((r) => r.requestId).sort()).toEqual(streams.map((s) => s.requestId).sort());
    for (const row of rows) {
      expect(row).toMatchObject({ status: 200, keyName: 'alice', model: 'gpt-4o-mini' });
      expect(row.completionTokens).toBeGreaterThan(0);
    }
    // The shutdown was logged as such, and nothing was cut.
    expect(child.stdout.some((l) => l.includes('shutting down'))).toBe(true);
    expect(child.stdout.some((l) => l.includes('grace period over'))).toBe(false);
    // Every stream's log line reached stdout, though the streams ended just before the exit and
    // logs are written in blocks: what was still buffered was written on the way out.
    const logged = await eventually(() => {
      const ids = child.stdout
        .filter((l) => l.includes('"msg":"request"'))
        .map((l) => (JSON.parse(l) as { requestId: string }).requestId);
      expect(ids.length).toBe(streams.length);
      return ids;
    });
    expect(logged.sort()).toEqual(streams.map((s) => s.requestId).sort());
    // The streams ended after the SIGTERM: their metrics, added up in the process, were written
    // on the way out too.
    expect(metricsOf(child)).toEqual({ requests: streams.length, latencies: streams.length });
  });

  it('with two workers: SIGTERM to the primary lets every worker finish its streams, then exits 0', async () => {
    const child = await startRelayOver(50, { shutdownGraceMs: 15_000, workers: 2 });
    const logs = () =>
      child.stdout
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; worker?: number; requestId?: string });
    const listening = () => logs().filter((l) => l.msg === 'worker listening').length;
    for (const deadline = Date.now() + 10_000; listening() < 2;) {
      if (Date.now() > deadline) throw new Error('the second worker never listened');
      await new Promise((r) => setTimeout(r, 50));
    }

    const streams = await Promise.all(Array.from({ length: 20 }, () => openStream(child.baseUrl)));
    await Promise.all(streams.map((s) => s.first));
    const termAt = await terminate(child);

    const results = await Promise.all(streams.map((s) => s.text));
    for (const r of results) {
      expect(r.cut).toBe(false);
      expect(contentOf(r.text)).toBe(REPLY);
    }
    await expectCleanExit(child, termAt, 10_000);

    const rows = usageRowsOf(child);
    expect(rows.map((r) => r.requestId).sort()).toEqual(streams.map((s) => s.requestId).sort());
    for (const row of rows) expect(row).toMatchObject({ status: 200, keyName: 'alice' });
    // Both workers had streams to drain, and each said so.
    const ids = new Set(streams.map((s) => s.requestId));
    const servedBy = new Set(
      logs()
        .filter((l) => l.requestId && ids.has(l.requestId))
        .map((l) => l.worker),
    );
    expect([...servedBy].sort()).toEqual([1, 2]);
    const drained = logs().filter((l) => l.msg?.startsWith('shutting down'));
    expect(drained.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(logs().some((l) => l.msg === 'all workers stopped')).toBe(true);
    expect(child.stdout.some((l) => l.includes('grace period over'))).toBe(false);
    // Each worker wrote the metrics it held as it stopped.
    expect(metricsOf(child)).toEqual({ requests: streams.length, latencies: streams.length });
  });

  it('honours the grace deadline: a long stream is cut, the process exits, its usage row stays', async () => {
    // 20 chunks 500 ms apart: a 10 s stream
    const child = await startRelayOver(500, { shutdownGraceMs: 500 });

    const stream = await openStream(child.baseUrl);
    await stream.first;
    const termAt = performance.now();
    child.proc.kill('SIGTERM');
    const result = await stream.text;
    expect(result.text.includes('data: [DONE]'), 'the stream was cut, not finished').toBe(false);

    // Liveness bound only: well before the stream would have ended by itself (10 s).
    await expectCleanExit(child, termAt, 5_000);
    expect(child.stdout.some((l) => l.includes('grace period over'))).toBe(true);

    const rows = usageRowsOf(child, 10);
    expect(rows.map((r) => r.requestId)).toEqual([stream.requestId]);
    // Cut by the shutdown: not a clean 200 (499: client side closed), billed for what was sent.
    expect(rows[0]!.status).not.toBe(200);
    expect(rows[0]).toMatchObject({ keyName: 'alice', model: 'gpt-4o-mini' });
  });
});
