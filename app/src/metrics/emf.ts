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

const DIMENSIONS = [['Service'], ['Service', 'Model']];

/**
 * The directive (`CloudWatchMetrics`) is the same on every line but for two metrics a request
 * may lack: its four variants are serialised once, indexed by (has first byte) + 2 × (has
 * relay time). Built per request, the block was a few KB of garbage each time.
 */
const DIRECTIVES = [0, 1, 2, 3].map((variant) =>
  JSON.stringify([
    {
      Namespace: EMF_NAMESPACE,
      Dimensions: DIMENSIONS,
      Metrics: METRICS.filter(
        (m) =>
          (m.Name !== 'TimeToFirstByte' || variant & 1) &&
          (m.Name !== 'RelayOverhead' || variant & 2),
      ),
    },
  ]),
);

/** A number as JSON.stringify writes it (NaN and infinities are null). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * The fields that make an access-log line an Embedded Metric Format record, already serialised
 * (`"_aws":{…},"Service":…,"Model":…,"Requests":1,…`, no braces) for the line writer to append:
 * CloudWatch Logs extracts the metrics from the same line ops search, so numbers and logs never
 * disagree. Metric names and dimensions are a contract with the dashboard in
 * lib/constructs/monitoring.ts.
 */
export function emfJson(
  record: RequestRecord,
  status: number,
  latencyMs: number,
  timestamp: number,
): string {
  // A request that never reached an upstream has no first byte; leaving it out keeps p99 honest.
  const ttfb = record.ttfbMs;
  // The relay's own time (x-relay-overhead-ms), so ops see the overhead users see.
  const relay = record.relayMs;
  const directive = DIRECTIVES[(ttfb === undefined ? 0 : 1) + (relay === undefined ? 0 : 2)];
  // A client can send any model name; unrouted ones must not each become a billed metric.
  const model = record.routed && record.model ? record.model : 'none';
  return (
    `"_aws":{"Timestamp":${num(timestamp)},"CloudWatchMetrics":${directive}},` +
    `"Service":"${SERVICE}","Model":${JSON.stringify(model)},"Requests":1,` +
    `"Errors4xx":${status >= 400 && status < 500 ? 1 : 0},"Errors5xx":${status >= 500 ? 1 : 0},` +
    `"Latency":${num(latencyMs)},"PromptTokens":${num(record.promptTokens ?? 0)},` +
    `"CompletionTokens":${num(record.completionTokens ?? 0)},` +
    `"CostUSD":${num((record.costMicros ?? 0) / 1_000_000)}` +
    (ttfb === undefined ? '' : `,"TimeToFirstByte":${num(ttfb)}`) +
    (relay === undefined ? '' : `,"RelayOverhead":${num(relay)}`)
  );
}
