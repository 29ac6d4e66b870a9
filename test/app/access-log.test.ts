import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-logline-0123456789abcdef';

interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [member: string]: unknown;
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
    // Closed by the shutdown test already, unless it never ran; closing twice is harmless.
    await t?.relay.shutdown('test');
    await upstream?.close();
  });

  const lineFor = (requestId: string) =>
    eventually(() => {
      const line = t.logs.find((l) => l.requestId === requestId && l.msg === 'request');
      expect(line).toBeDefined();
      return line!;
    });

  const metricsDocs = () =>
    t.logs.filter((l) => l.msg === 'request metrics') as unknown as EmfDocument[];
  let streamRelayMs: number | undefined;

  it('says who, what, where and how long, and carries no metrics block', async () => {
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
    // The relay's own time, the same number the client saw in x-relay-overhead-ms.
    expect(line.relayMs).toBe(Number(raw.headers.get('x-relay-overhead-ms')));
    streamRelayMs = line.relayMs as number;
    // The metrics are added up in the process and written apart (see the last test).
    expect(line._aws).toBeUndefined();
    expect(line.Requests).toBeUndefined();
  });

  it('logs a model name no channel serves as the client sent it', async () => {
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
    expect(line).toMatchObject({ level: 'warn', status: 404, model: 'random-junk-1234' });
  });

  it('keeps health probes out of the info log', async () => {
    const res = await fetch(`${t.baseUrl}/healthz`);
    const line = await lineFor(res.headers.get('x-request-id')!);
    expect(line.level).toBe('debug');
  });

  it('writes the metrics of every API request, as valid Embedded Metric Format documents, on a graceful shutdown', async () => {
    await t.close();
    const docs = metricsDocs();
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      const [directive] = doc._aws.CloudWatchMetrics;
      expect(directive).toMatchObject({
        Namespace: 'LlmRelay',
        Dimensions: [['Service'], ['Service', 'Model']],
      });
      expect(doc._aws.Timestamp).toEqual(expect.any(Number));
      // Every declared metric and dimension is a top-level member of the same line, as EMF requires.
      for (const { Name } of directive!.Metrics) expect(doc[Name], Name).toBeDefined();
      for (const dim of directive!.Dimensions.flat()) expect(doc[dim]).toEqual(expect.any(String));
    }
    const model = (name: string) => docs.filter((d) => d.Model === name);
    // The stream, and the junk model as "none" (never a dimension of its own); no health probe.
    expect(docs.map((d) => d.Model).sort()).toEqual(['gpt-4o', 'none']);
    const [gpt] = model('gpt-4o');
    expect(gpt).toMatchObject({
      Service: 'llm-relay',
      Requests: 1,
      Errors4xx: 0,
      Errors5xx: 0,
      PromptTokens: 30,
      CompletionTokens: 12,
      Latency: [expect.any(Number)],
      TimeToFirstByte: [expect.any(Number)],
      RelayOverhead: [streamRelayMs],
    });
    expect(gpt!.CostUSD).toBeCloseTo((30 * 2.5 + 12 * 10) / 1e6, 9);
    expect(model('none')).toMatchObject([{ Requests: 1, Errors4xx: 1 }]);
  });

  it('never contains the client key or the provider key', () => {
    const text = t.rawLog.join('\n');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('sk-upstream-logline-secret');
  });
});
