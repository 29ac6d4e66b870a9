/**
 * A rolling restart with no failed request: two relay processes (the real entry point, as
 * systemd runs it) share one data folder, as cluster workers do, behind a reverse proxy that
 * health-checks /healthz like an Application Load Balancer and never retries. While a bounded
 * client loop (the official OpenAI SDK, retries off) sends JSON and streaming requests through
 * the proxy, each relay in turn gets SIGTERM, drains, exits and starts again on its port.
 *
 * What makes it work is `server.drainDelayMs`: on SIGTERM the relay first answers /healthz with
 * 503 while still serving, so the proxy takes it out of service before its listener closes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHealthCheckedProxy } from '../fixtures/health-checked-proxy.ts';
import type { HealthCheckedProxy } from '../fixtures/health-checked-proxy.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually } from '../fixtures/relay-harness.ts';
import { freePort, spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const CLIENT_KEY = 'sk-rolling-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-rolling-1';
/**
 * The proxy checks every 50 ms and takes a target out after 2 failures (~100 ms): well inside
 * this, with room for a busy machine, since the test also reads /healthz within it.
 */
const DRAIN_DELAY_MS = 1_000;
const CLIENTS = 4;
/** Upper bound per client, whatever happens (the loop normally ends when the restarts do). */
const MAX_REQUESTS_PER_CLIENT = 400;

describe('rolling restart behind a health-checking proxy', () => {
  let upstream: FakeUpstream;
  let proxy: HealthCheckedProxy;
  const relays: RelayProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-rolling-'));

  const start = (port: number) =>
    spawnRelay({
      dataDir,
      port,
      config: {
        server: { drainDelayMs: DRAIN_DELAY_MS, shutdownGraceMs: 5_000 },
        channels: [
          {
            name: 'loopback',
            type: 'openai',
            baseUrl: upstream.url,
            apiKey: 'env:TEST_ROLLING_UPSTREAM_KEY',
            models: ['gpt-4o-mini'],
          },
        ],
        keys: [{ name: 'alice', key: CLIENT_KEY, models: ['*'] }],
        prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      },
      env: { TEST_ROLLING_UPSTREAM_KEY: UPSTREAM_KEY },
    });

  beforeAll(async () => {
    // Streams of ~10 chunks 5 ms apart: some are always in flight when a relay is stopped.
    upstream = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      reply: 'one two three four five six seven eight nine ten',
      chunkDelayMs: 5,
    });
    const ports = [await freePort(), await freePort()];
    for (const port of ports) relays.push(await start(port));
    proxy = await startHealthCheckedProxy({ targets: ports.map((port) => ({ port })) });
    await eventually(() => {
      for (const port of ports) expect(proxy.inService(port)).toBe(true);
    }, 5_000);
  }, 30_000);

  afterAll(async () => {
    await proxy?.close();
    for (const relay of relays) {
      if (relay.proc.exitCode === null) relay.proc.kill('SIGKILL');
    }
    await upstream?.close();
  });

  it('answers every request while each relay is stopped and started in turn', async () => {
    const client = new OpenAI({
      apiKey: CLIENT_KEY,
      baseURL: `${proxy.url}/v1`,
      // A retry would hide exactly the failure this test is about.
      maxRetries: 0,
      timeout: 10_000,
    });
    let restarting = true;
    const failures: string[] = [];
    let ok = 0;
    const loop = async (id: number) => {
      for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && restarting; i++) {
        try {
          if ((i + id) % 2 === 0) {
            const answer = await client.chat.completions.create({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: `hello ${id}/${i}` }],
            });
            expect(answer.choices[0]!.message.content).toContain('ten');
          } else {
            const stream = await client.chat.completions.create({
              model: 'gpt-4o-mini',
              stream: true,
              messages: [{ role: 'user', content: `stream ${id}/${i}` }],
            });
            let text = '';
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
            expect(text).toBe('one two three four five six seven eight nine ten');
          }
          ok += 1;
        } catch (error) {
          failures.push(`client ${id} request ${i}: ${String(error)}`);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, id) => loop(id));

    const restarted: number[] = [];
    for (const [index, relay] of [...relays].entries()) {
      const servedBefore = proxy.forwarded.get(relay.port) ?? 0;
      relay.proc.kill('SIGTERM');
      // Out of service while it still serves (drain delay), then it exits cleanly.
      await eventually(() => expect(proxy.inService(relay.port)).toBe(false), 2_000);
      expect(relay.proc.exitCode).toBeNull();
      const health = await fetch(`${relay.baseUrl}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'draining' });
      const exit = await relay.exited;
      expect(exit.code).toBe(0);
      const fresh = await start(relay.port);
      relays[index] = fresh;
      await eventually(() => expect(proxy.inService(fresh.port)).toBe(true), 5_000);
      // The restarted relay takes traffic again before the next one goes.
      await eventually(
        () => expect(proxy.forwarded.get(fresh.port) ?? 0).toBeGreaterThan(servedBefore + 5),
        5_000,
      );
      restarted.push(fresh.port);
    }
    restarting = false;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(restarted).toHaveLength(2);
    expect(ok).toBeGreaterThan(50);
  }, 60_000);
});
