import type { RequestRecord } from '../types.ts';

export const EMF_NAMESPACE = 'LlmRelay';
export const SERVICE = 'llm-relay';

const METRICS = [
  { Name: 'Requests', Unit: 'Count' },
  { Name: 'Errors4xx', Unit: 'Count' },
  { Name: 'Errors5xx', Unit: 'Count' },
  { Name: 'Latency', Unit: 'Milliseconds' },
  { Name: 'TimeToFirstByte', Unit: 'Milliseconds' },
  { Name: 'PromptTokens', Unit: 'Count' },
  { Name: 'CompletionTokens', Unit: 'Count' },
  { Name: 'CostUSD', Unit: 'None' },
  { Name: 'RelayOverhead', Unit: 'Milliseconds' },
] as const;

/**
 * The fields that make an access-log line an Embedded Metric Format record: CloudWatch Logs
 * extracts the metrics from the same line ops search, so numbers and logs never disagree.
 * Metric names and dimensions are a contract with the dashboard in lib/constructs/monitoring.ts.
 */
export function emfFields(
  record: RequestRecord,
  status: number,
  latencyMs: number,
  timestamp: number,
): Record<string, unknown> {
  const metrics: Record<string, number> = {
    Requests: 1,
    Errors4xx: status >= 400 && status < 500 ? 1 : 0,
    Errors5xx: status >= 500 ? 1 : 0,
    Latency: latencyMs,
    PromptTokens: record.promptTokens ?? 0,
    CompletionTokens: record.completionTokens ?? 0,
    CostUSD: (record.costMicros ?? 0) / 1_000_000,
  };
  // A request that never reached an upstream has no first byte; leaving it out keeps p99 honest.
  if (record.ttfbMs !== undefined) metrics.TimeToFirstByte = record.ttfbMs;
  // The relay's own time (x-relay-overhead-ms), so ops see the overhead users see.
  if (record.relayMs !== undefined) metrics.RelayOverhead = record.relayMs;
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: EMF_NAMESPACE,
          Dimensions: [['Service'], ['Service', 'Model']],
          Metrics: METRICS.filter((m) => m.Name in metrics),
        },
      ],
    },
    Service: SERVICE,
    // A client can send any model name; unrouted ones must not each become a billed metric.
    Model: record.routed && record.model ? record.model : 'none',
    ...metrics,
  };
}
