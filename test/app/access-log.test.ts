import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-logline-0123456789abcdef';

interface EmfBlock {
  Timestamp: number;
  CloudWatchMetrics: {
    Namespace: string;
    Dimensions: string[][];
    Metrics: { Name: string; Unit: string }[];
  }[];
}

describe('the per-request log line', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: 'sk-upstream-logline-secret',
      promptTokens: 30,
      completionTokens: 12,
    });
    t = await startTestRelay({
      channels: [
        {
          name: 'main',
          baseUrl: upstream.url,
          apiKey: 'sk-upstream-logline-secret',
          models: ['gpt-4o'],
        },
      ],
      keys: [{ name: 'logger', key: KEY, quota: 1 }],
      prices: { 'gpt-4o': { input: 2.5, output: 10 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const lineFor = (requestId: string) =>
    eventually(() => {
      const line = t.logs.find((l) => l.requestId === requestId && l.msg === 'request');
      expect(line).toBeDefined();
      return line!;
    });

  it('says who, what, where and how long, and is a valid Embedded Metric Format record', async () => {
    const raw = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    await raw.text();
    const line = await lineFor(raw.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      level: 'info',
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      keyName: 'logger',
      model: 'gpt-4o',
      channel: 'main',
      promptTokens: 30,
      completionTokens: 12,
      usageSource: 'upstream',
    });
    expect(line.latencyMs).toEqual(expect.any(Number));
    expect(line.ttfbMs).toEqual(expect.any(Number));

    const emf = line._aws as EmfBlock;
    expect(emf.Timestamp).toEqual(expect.any(Number));
    const [directive] = emf.CloudWatchMetrics;
    expect(directive).toMatchObject({
      Namespace: 'LlmRelay',
      Dimensions: [['Service'], ['Service', 'Model']],
    });
    // Every declared metric and dimension is a top-level member of the same line, as EMF requires.
    for (const metric of directive!.Metrics) expect(line[metric.Name]).toEqual(expect.any(Number));
    for (const dim of directive!.Dimensions.flat()) expect(line[dim]).toEqual(expect.any(String));
    expect(line).toMatchObject({
      Service: 'llm-relay',
      Model: 'gpt-4o',
      Requests: 1,
      Errors4xx: 0,
      Errors5xx: 0,
      PromptTokens: 30,
      CompletionTokens: 12,
    });
    expect(line.CostUSD).toBeCloseTo((30 * 2.5 + 12 * 10) / 1e6, 9);
    expect(directive!.Metrics.map((m) => m.Name)).toContain('TimeToFirstByte');
    // The relay's own time, the same number the client saw in x-relay-overhead-ms.
    expect(directive!.Metrics.map((m) => m.Name)).toContain('RelayOverhead');
    expect(line.RelayOverhead).toBe(line.relayMs);
    expect(line.relayMs).toBe(Number(raw.headers.get('x-relay-overhead-ms')));
  });

  it('never makes a metric dimension out of a model name no channel serves', async () => {
    const res = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'random-junk-1234',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(404);
    const line = await lineFor(res.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      level: 'warn',
      status: 404,
      Model: 'none',
      Errors4xx: 1,
      model: 'random-junk-1234',
    });
  });

  it('keeps health probes out of the metrics and out of the info log', async () => {
    const res = await fetch(`${t.baseUrl}/healthz`);
    const line = await lineFor(res.headers.get('x-request-id')!);
    expect(line.level).toBe('debug');
    expect(line._aws).toBeUndefined();
  });

  it('never contains the client key or the provider key', () => {
    const text = t.rawLog.join('\n');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('sk-upstream-logline-secret');
  });
});
