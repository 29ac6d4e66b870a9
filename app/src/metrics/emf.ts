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
 * The directive (`CloudWatchMetrics`) is the same in every document but for two metrics a batch
 * may lack: its four variants are serialised once, indexed by (has first bytes) + 2 × (has
 * relay times).
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

/**
 * One model's requests over part of one minute: sums for what the dashboard and alarms add up,
 * and every request's own value for what they take percentiles of.
 */
export interface MetricBatch {
  readonly model: string;
  /** When its first request ended (ms): every request in it ended in the same minute. */
  readonly timestamp: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  readonly latency: number[];
  readonly ttfb: number[];
  readonly relay: number[];
}

/** A number as JSON.stringify writes it (NaN and infinities are null). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * A batch as the fields of one Embedded Metric Format document, already serialised
 * (`"_aws":{…},"Service":…,"Model":…,"Requests":12,"Latency":[…],…`, no braces), for the line
 * writer to append. Sums are one number each (their Sum is what the dashboard and alarms read);
 * latencies are arrays of every request's value (at most 100, EMF's limit), so CloudWatch's
 * percentiles are the same as from one document per request. Metric names and dimensions are a
 * contract with the dashboard in lib/constructs/monitoring.ts.
 */
export function emfJson(batch: MetricBatch): string {
  // A batch whose requests never reached an upstream has no first byte: no value, no metric.
  const ttfb = batch.ttfb.length > 0;
  const relay = batch.relay.length > 0;
  const directive = DIRECTIVES[(ttfb ? 1 : 0) + (relay ? 2 : 0)];
  return (
    `"_aws":{"Timestamp":${num(batch.timestamp)},"CloudWatchMetrics":${directive}},` +
    `"Service":"${SERVICE}","Model":${JSON.stringify(batch.model)},` +
    `"Requests":${batch.requests},"Errors4xx":${batch.errors4xx},"Errors5xx":${batch.errors5xx},` +
    `"Latency":[${batch.latency.join(',')}],"PromptTokens":${num(batch.promptTokens)},` +
    `"CompletionTokens":${num(batch.completionTokens)},` +
    `"CostUSD":${num(batch.costMicros / 1_000_000)}` +
    (ttfb ? `,"TimeToFirstByte":[${batch.ttfb.join(',')}]` : '') +
    (relay ? `,"RelayOverhead":[${batch.relay.join(',')}]` : '')
  );
}
