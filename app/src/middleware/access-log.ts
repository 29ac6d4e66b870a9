import type { Context } from 'hono';
import { plainLineWriter } from '../logger.ts';
import { nodeOutgoing } from '../node-bindings.ts';
import type { Logger } from '../logger.ts';
import type { RequestMetrics } from '../metrics/request-metrics.ts';
import { startTiming } from '../timing.ts';
import type { AppEnv, InflightTracker, RequestRecord } from '../types.ts';

/** The request's record and its access line, as the edge middleware drives them. */
export interface AccessLog {
  /**
   * A fresh record on the context, counted in flight until its line is written; the function
   * returned writes the line when the response is really over (a stream's `record.done`).
   */
  begin(c: Context<AppEnv>): () => void;
}

/**
 * One JSON line per request, written when the response is really over: for a stream that is
 * when the last event went out, not when the handler returned. Never headers, never bodies.
 */
export function accessLog(
  logger: Logger,
  now: () => number,
  metrics: RequestMetrics,
  inflight?: InflightTracker,
): AccessLog {
  // The line is built field by field from the record below, never from headers or bodies, so
  // the logger's redaction has nothing to find here, and its values are plain numbers and
  // strings: one JSON.stringify writes it. Errors logged elsewhere still go through pino.
  const log = plainLineWriter(logger);
  const lost = (err: unknown) => {
    try {
      logger.error({ err }, 'access line not written');
    } catch {
      // The logger's destination is what failed: there is nowhere left to say so.
    }
  };
  return {
    begin(c) {
      const record: RequestRecord = { startedAt: now(), ...startTiming() };
      c.set('record', record);
      const release = inflight?.begin();
      const write = () => {
        const status = record.status ?? c.res.status;
        const end = now();
        const latencyMs = end - record.startedAt;
        const path = c.req.path;
        const line = {
          requestId: c.get('requestId'),
          method: c.req.method,
          path,
          status,
          keyName: record.keyName,
          model: record.model,
          upstreamModel: record.upstreamModel,
          channel: record.channel,
          attempts: record.attempts,
          promptTokens: record.promptTokens,
          completionTokens: record.completionTokens,
          costUsd: record.costMicros === undefined ? undefined : record.costMicros / 1_000_000,
          usageSource: record.source,
          errorCode: record.errorCode,
          latencyMs,
          ttfbMs: record.ttfbMs,
          relayMs: record.relayMs,
        };
        // Health probes and the admin console are not API traffic: no metrics from them. Counted
        // first, so a line the destination refuses still counts.
        if (path !== '/healthz' && !path.startsWith('/admin'))
          metrics.add(record, status, latencyMs, end);
        // Health probes are not traffic: no noise in the log at info.
        if (path === '/healthz' && status < 500) log('debug', line, 'request');
        else if (status >= 500) log('error', line, 'request');
        else if (status >= 400) log('warn', line, 'request');
        else log('info', line, 'request');
      };
      // A writer that throws (a full disk, a closed pipe) costs the line, never the answer, an
      // unhandled rejection, or the in-flight count a graceful shutdown waits on.
      const writeOnce = () => {
        try {
          write();
        } catch (err) {
          lost(err);
        } finally {
          release?.();
        }
      };
      return () => {
        if (record.done) record.done.then(writeOnce, writeOnce).catch(lost);
        // Behind the answer. A proxied JSON answer is on the socket already (proxy/reply.ts);
        // an answer the adapter writes from a string (errors, model lists, health) goes in this
        // same run of microtasks, and a tick is after them all, so the line (~10 µs, a 4 KiB
        // block write in one request of ~9) no longer delays it. A body the adapter streams
        // (an image file) still leaves after the line. Without a socket (app.request): now.
        else if (nodeOutgoing(c)) process.nextTick(writeOnce);
        else writeOnce();
      };
    },
  };
}
