import { plainLineWriter } from '../logger.ts';
import type { Logger } from '../logger.ts';
import type { RequestRecord } from '../types.ts';
import { emfJson } from './emf.ts';
import type { MetricBatch } from './emf.ts';

/** EMF takes at most 100 values in one metric's array. */
const MAX_VALUES = 100;
const MINUTE = 60_000;

/**
 * The request metrics, added up in the process and written as one Embedded Metric Format
 * document per model every `intervalMs` (or 100 requests, or when the minute turns) instead of
 * a ~700-byte EMF block on every access line: CloudWatch gets the same metrics, dimensions,
 * units, sums and percentiles. `stop` (the graceful shutdown) writes what is left; a process
 * killed without it loses the last `intervalMs` of metrics, never an access line.
 */
export interface RequestMetrics {
  add(record: RequestRecord, status: number, latencyMs: number, at: number): void;
  /** Writes every batch now. */
  flush(): void;
  /** Flushes and stops the timer; what is added later is written at once. */
  stop(): void;
}

/** `write` takes a document's fields (see emfJson) and must not throw. */
export function requestMetrics(
  write: (emf: string) => void,
  options: { readonly intervalMs?: number } = {},
): RequestMetrics {
  const batches = new Map<string, MetricBatch>();
  const flushBatch = (batch: MetricBatch) => {
    batches.delete(batch.model);
    write(emfJson(batch));
  };
  const flush = () => {
    for (const batch of [...batches.values()]) flushBatch(batch);
  };
  const timer = setInterval(flush, options.intervalMs ?? 10_000);
  timer.unref();
  let stopped = false;
  const batchFor = (model: string, at: number): MetricBatch => {
    const open = batches.get(model);
    // One document's values share its timestamp: a new minute starts a new document.
    if (open && Math.floor(open.timestamp / MINUTE) === Math.floor(at / MINUTE)) return open;
    if (open) flushBatch(open);
    const batch: MetricBatch = {
      model,
      timestamp: at,
      requests: 0,
      errors4xx: 0,
      errors5xx: 0,
      promptTokens: 0,
      completionTokens: 0,
      costMicros: 0,
      latency: [],
      ttfb: [],
      relay: [],
    };
    batches.set(model, batch);
    return batch;
  };
  return {
    add(record, status, latencyMs, at) {
      // A client can send any model name; unrouted ones must not each become a billed metric.
      const batch = batchFor(record.routed && record.model ? record.model : 'none', at);
      batch.requests++;
      if (status >= 500) batch.errors5xx++;
      else if (status >= 400) batch.errors4xx++;
      batch.promptTokens += record.promptTokens ?? 0;
      batch.completionTokens += record.completionTokens ?? 0;
      batch.costMicros += record.costMicros ?? 0;
      if (Number.isFinite(latencyMs)) batch.latency.push(latencyMs);
      // A request that never reached an upstream has no first byte; leaving it out keeps p99 honest.
      if (record.ttfbMs !== undefined) batch.ttfb.push(record.ttfbMs);
      // The relay's own time (x-relay-overhead-ms), so ops see the overhead users see.
      if (record.relayMs !== undefined) batch.relay.push(record.relayMs);
      // Once stopped, a straggler (a stream cut after the drain) is written at once.
      if (batch.requests >= MAX_VALUES || stopped) flushBatch(batch);
    },
    flush,
    stop() {
      clearInterval(timer);
      stopped = true;
      flush();
    },
  };
}

/** Request metrics written by `logger` as `request metrics` lines, beside the access lines. */
export function loggedRequestMetrics(
  logger: Logger,
  options?: { readonly intervalMs?: number },
): RequestMetrics {
  const log = plainLineWriter(logger, { anyLevel: true });
  return requestMetrics((emf) => {
    try {
      log('info', {}, 'request metrics', emf);
    } catch (err) {
      try {
        logger.error({ err }, 'request metrics not written');
      } catch {
        // The logger's destination is what failed: there is nowhere left to say so.
      }
    }
  }, options);
}
