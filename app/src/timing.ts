import type { WaitObserver } from './routing/upstream-client.ts';
import type { RequestRecord } from './types.ts';

/** A fresh record's timing fields: a precise clock, unlike the wall clock the rows use. */
export function startTiming(): Pick<RequestRecord, 'startedAtHr' | 'upstreamWaitMs'> {
  return { startedAtHr: performance.now(), upstreamWaitMs: 0 };
}

/** Counts the record's upstream waits; a wait still open counts up to the moment it is read. */
export function upstreamWaits(record: RequestRecord): WaitObserver {
  return {
    begin() {
      record.waitingSince ??= performance.now();
    },
    end() {
      if (record.waitingSince === undefined) return;
      record.upstreamWaitMs += performance.now() - record.waitingSince;
      record.waitingSince = undefined;
    },
  };
}

/** Upstream waits so far, a wait still open included. */
function waitedMs(record: RequestRecord, at: number): number {
  return record.upstreamWaitMs + (record.waitingSince === undefined ? 0 : at - record.waitingSince);
}

/**
 * `x-relay-overhead-ms` for curl and dashboards, and the standard `Server-Timing` that browser
 * dev tools chart, written into `headers`: the time the relay spent on the request so far,
 * without the time it waited on upstreams (connect, headers, body chunks) or on their
 * Retry-After and backoff. Taken as the answer is made, before it is sent: for a stream,
 * before its first byte.
 */
export function stampTiming(record: RequestRecord, headers: Record<string, string>): void {
  const now = performance.now();
  const waited = waitedMs(record, now);
  const relay = Math.max(0, now - record.startedAtHr - waited).toFixed(3);
  record.relayMs = Number(relay);
  headers['x-relay-overhead-ms'] = relay;
  headers['server-timing'] =
    `relay;dur=${relay};desc="relay processing", upstream;dur=${waited.toFixed(3)};desc="waiting on upstream"`;
}
