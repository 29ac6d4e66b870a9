import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestRecord } from '../types.ts';
import { createLogger } from '../logger.ts';
import { loggedRequestMetrics, requestMetrics } from './request-metrics.ts';

interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  [member: string]: unknown;
}

function collect(intervalMs?: number) {
  const docs: EmfDocument[] = [];
  const metrics = requestMetrics(
    (emf) => docs.push(JSON.parse(`{${emf}}`) as EmfDocument),
    intervalMs === undefined ? {} : { intervalMs },
  );
  return { docs, metrics };
}

const routed = (fields: Partial<RequestRecord> = {}): RequestRecord => ({
  startedAt: 0,
  startedAtHr: 0,
  upstreamWaitMs: 0,
  model: 'gpt-4o',
  routed: true,
  promptTokens: 10,
  completionTokens: 5,
  costMicros: 3,
  ttfbMs: 40,
  relayMs: 0.25,
  ...fields,
});

const sum = (docs: EmfDocument[], name: string) =>
  docs.reduce((total, d) => total + ((d[name] as number | undefined) ?? 0), 0);

afterEach(() => {
  vi.useRealTimers();
});

describe('request metrics added up in the process', () => {
  it('writes nothing until flushed, then one document per model with the sums and every value', () => {
    const { docs, metrics } = collect();
    metrics.add(routed(), 200, 120, 1_000);
    metrics.add(routed({ ttfbMs: 55, relayMs: 0.5 }), 502, 130, 1_001);
    metrics.add(routed({ model: 'deepseek-chat' }), 429, 7, 1_002);
    expect(docs).toEqual([]);
    metrics.flush();
    expect(docs.map((d) => d.Model).sort()).toEqual(['deepseek-chat', 'gpt-4o']);
    const gpt = docs.find((d) => d.Model === 'gpt-4o')!;
    expect(gpt).toMatchObject({
      Service: 'llm-relay',
      Requests: 2,
      Errors4xx: 0,
      Errors5xx: 1,
      Latency: [120, 130],
      TimeToFirstByte: [40, 55],
      RelayOverhead: [0.25, 0.5],
      PromptTokens: 20,
      CompletionTokens: 10,
      CostUSD: 0.000006,
    });
    expect(gpt._aws.Timestamp).toBe(1_000);
    expect(docs.find((d) => d.Model === 'deepseek-chat')).toMatchObject({ Errors4xx: 1 });
    metrics.flush();
    expect(docs).toHaveLength(2);
    metrics.stop();
  });

  it('declares exactly the metrics each document carries, all top-level members, as EMF requires', () => {
    const { docs, metrics } = collect();
    // A request refused before any upstream: no first byte and no relay time.
    metrics.add(routed({ ttfbMs: undefined, relayMs: undefined }), 401, 2, 5_000);
    metrics.add(routed({ model: 'deepseek-chat' }), 200, 90, 5_000);
    metrics.stop();
    for (const doc of docs) {
      const [directive] = doc._aws.CloudWatchMetrics;
      expect(directive).toMatchObject({
        Namespace: 'LlmRelay',
        Dimensions: [['Service'], ['Service', 'Model']],
      });
      for (const { Name } of directive!.Metrics) expect(doc[Name], Name).toBeDefined();
      for (const dim of directive!.Dimensions.flat()) expect(doc[dim]).toEqual(expect.any(String));
    }
    const refused = docs.find((d) => d.Model === 'gpt-4o')!;
    const names = refused._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name);
    expect(names).not.toContain('TimeToFirstByte');
    expect(names).not.toContain('RelayOverhead');
    expect(refused.TimeToFirstByte).toBeUndefined();
  });

  it('never makes a dimension of a model no channel serves', () => {
    const { docs, metrics } = collect();
    metrics.add(routed({ model: 'random-junk', routed: false }), 404, 1, 0);
    metrics.add(routed({ model: undefined, routed: false }), 401, 1, 0);
    metrics.stop();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ Model: 'none', Requests: 2, Errors4xx: 2 });
  });

  it('keeps at most 100 values in an array, and loses no request to the cap', () => {
    const { docs, metrics } = collect();
    for (let i = 0; i < 250; i++) metrics.add(routed(), 200, i, 10_000);
    metrics.stop();
    expect(docs.map((d) => d.Requests)).toEqual([100, 100, 50]);
    for (const d of docs) {
      expect((d.Latency as number[]).length).toBe(d.Requests);
      expect((d.TimeToFirstByte as number[]).length).toBe(d.Requests);
    }
    expect(docs.flatMap((d) => d.Latency as number[])).toEqual([...Array(250).keys()]);
    expect(sum(docs, 'PromptTokens')).toBe(2_500);
  });

  it('starts a new document when the minute turns, so each value keeps its own minute', () => {
    const { docs, metrics } = collect();
    metrics.add(routed(), 200, 1, 59_999);
    metrics.add(routed(), 200, 2, 60_000);
    metrics.stop();
    expect(docs.map((d) => [d._aws.Timestamp, d.Latency])).toEqual([
      [59_999, [1]],
      [60_000, [2]],
    ]);
  });

  it('writes what it holds every interval, and once stopped writes each request at once', () => {
    vi.useFakeTimers();
    const { docs, metrics } = collect(10_000);
    metrics.add(routed(), 200, 1, 0);
    vi.advanceTimersByTime(9_999);
    expect(docs).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(docs).toHaveLength(1);
    metrics.add(routed(), 200, 1, 0);
    metrics.stop();
    expect(docs).toHaveLength(2);
    metrics.add(routed(), 200, 3, 0);
    expect(docs).toHaveLength(3);
    expect(docs[2]).toMatchObject({ Requests: 1, Latency: [3] });
  });

  it('writes its documents whatever the log level, unless the log is silent', () => {
    const written = (level: string) => {
      const lines: string[] = [];
      const logger = createLogger({ level, destination: { write: (l) => void lines.push(l) } });
      const metrics = loggedRequestMetrics(logger);
      metrics.add(routed(), 200, 120, 1_000);
      metrics.flush();
      metrics.stop();
      return lines.map((l) => JSON.parse(l) as { msg: string; Requests?: number });
    };
    expect(written('warn')).toMatchObject([{ msg: 'request metrics', Requests: 1 }]);
    expect(written('error')).toHaveLength(1);
    expect(written('silent')).toEqual([]);
  });
});
