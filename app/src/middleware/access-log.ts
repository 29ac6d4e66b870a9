import type { Context } from 'hono';
import { plainLineWriter } from '../logger.ts';
import type { Logger } from '../logger.ts';
import { emfFields } from '../metrics/emf.ts';
import { startTiming, timingHeaders } from '../timing.ts';
import type { AppEnv, InflightTracker, RequestRecord } from '../types.ts';

/** The request's record and its access line, as the edge middleware drives them. */
export interface AccessLog {
  /**
   * A fresh record on the context, counted in flight until its line is written; the function
   * returned writes the line when the response is really over (a stream's `record.done`).
   */
  begin(c: Context<AppEnv>): () => void;
  /** The timing headers, once the answer is made (none, a stream's included, has been sent). */
  stamp(c: Context<AppEnv>): void;
}

/**
 * One JSON line per request, written when the response is really over: for a stream that is
 * when the last event went out, not when the handler returned. Never headers, never bodies.
 */
export function accessLog(
  logger: Logger,
  now: () => number,
  inflight?: InflightTracker,
): AccessLog {
  // The line is built field by field from the record below, never from headers or bodies, so
  // the logger's redaction has nothing to find here, and its values are plain numbers and
  // strings: one JSON.stringify writes it. Errors logged elsewhere still go through pino.
  const log = plainLineWriter(logger);
  return {
    begin(c) {
      const record: RequestRecord = { startedAt: now(), ...startTiming() };
      c.set('record', record);
      let release: (() => void) | undefined;
      inflight?.add(new Promise<void>((resolve) => (release = resolve)));
      const write = () => {
        const status = record.status ?? c.res.status;
        const latencyMs = now() - record.startedAt;
        const line = {
          requestId: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
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
          // Health probes and the admin console are not API traffic: no metrics from them.
          ...(c.req.path === '/healthz' || c.req.path.startsWith('/admin')
            ? {}
            : emfFields(record, status, latencyMs, now())),
        };
        // Health probes are not traffic: no metrics, and no noise in the log at info.
        if (c.req.path === '/healthz' && status < 500) log('debug', line, 'request');
        else if (status >= 500) log('error', line, 'request');
        else if (status >= 400) log('warn', line, 'request');
        else log('info', line, 'request');
        release?.();
      };
      return () => {
        if (record.done) record.done.then(write, write);
        else write();
      };
    },
    stamp(c) {
      const headers = c.res.headers;
      const timing = timingHeaders(c.get('record'));
      for (const [name, value] of Object.entries(timing)) headers.set(name, value);
    },
  };
}
