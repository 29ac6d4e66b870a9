import type { WaitObserver } from './routing/upstream-client.ts';
import type { RequestRecord } from './types.ts';

/** Names of the headers that tell a client how much of its wait was the relay's own. */
export const OVERHEAD_HEADER = 'x-relay-overhead-ms';
export const SERVER_TIMING_HEADER = 'server-timing';

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

/**
 * Time the relay spent on this request up to now, without the time it waited on upstreams
 * (connect, response headers, body chunks) or on their Retry-After and backoff. For a stream
 * this is measured when the headers go out, so it covers everything before the first byte.
 */
export function relayMs(record: RequestRecord, at = performance.now()): number {
  return Math.max(0, at - record.startedAtHr - waitedMs(record, at));
}

function waitedMs(record: RequestRecord, at: number): number {
  return record.upstreamWaitMs + (record.waitingSince === undefined ? 0 : at - record.waitingSince);
}

/**
 * `x-relay-overhead-ms` for curl and dashboards, and the standard `Server-Timing` that browser
 * dev tools chart. Stamped once, on the response's own headers, before it is sent.
 */
export function timingHeaders(record: RequestRecord): Record<string, string> {
  const now = performance.now();
  const relay = relayMs(record, now).toFixed(3);
  record.relayMs = Number(relay);
  const upstream = waitedMs(record, now).toFixed(3);
  return {
    [OVERHEAD_HEADER]: relay,
    [SERVER_TIMING_HEADER]: `relay;dur=${relay};desc="relay processing", upstream;dur=${upstream};desc="waiting on upstream"`,
  };
}
