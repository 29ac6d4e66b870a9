/**
 * How usage lives in the usage table.
 *
 *   raw row   pk `key#<keyId|none>`, sk `<createdAt, 13 digits>#<requestId>`; gsi1pk `day#<UTC day>`,
 *             gsi1sk = sk (every key's rows of a day by time); TTL `expiresAt` from retentionDays
 *   rollup    pk `rollup#<day in the usage zone>`, sk `["<key>","<model>","<channel>"]`, counters
 *             added with ADD (the same counters as SQLite's usage_daily), no TTL
 *   meta      pk `meta`, sk `firstDay`: the earliest rollup day, so "since ever" has a start
 */
import { COUNTERS } from '../sqlite-rollups.ts';
import type { StoredUsageRow, UsageRow } from '../types.ts';

export type Counter = (typeof COUNTERS)[number];
export { COUNTERS };

export const rowPk = (keyId: number | null) => `key#${keyId ?? 'none'}`;
export const rowSk = (createdAt: number, requestId: string) =>
  `${String(createdAt).padStart(13, '0')}#${requestId}`;
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const dayPk = (utc: string) => `day#${utc}`;
export const rollupPk = (day: string) => `rollup#${day}`;

/** A stable number for the row (DynamoDB has no row ids): time first, so it orders like SQLite's. */
export function rowId(createdAt: number, requestId: string): number {
  let h = 0;
  for (let i = 0; i < requestId.length; i++) h = (h * 31 + requestId.charCodeAt(i)) % 1000;
  return createdAt * 1000 + h;
}

export function rowItem(u: UsageRow, createdAt: number, ttl: number | undefined) {
  const sk = rowSk(createdAt, u.requestId);
  return {
    pk: rowPk(u.keyId),
    sk,
    gsi1pk: dayPk(utcDay(createdAt)),
    gsi1sk: sk,
    ...(ttl !== undefined && { expiresAt: ttl }),
    requestId: u.requestId,
    keyId: u.keyId,
    keyName: u.keyName,
    endpoint: u.endpoint,
    model: u.model,
    upstreamModel: u.upstreamModel,
    channel: u.channel,
    status: u.status,
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    cacheReadTokens: u.cacheReadTokens ?? 0,
    cacheWrite5mTokens: u.cacheWrite5mTokens ?? 0,
    cacheWrite1hTokens: u.cacheWrite1hTokens ?? 0,
    reasoningTokens: u.reasoningTokens ?? 0,
    costMicros: Math.round(u.costMicros),
    latencyMs: Math.round(u.latencyMs),
    ttfbMs: u.ttfbMs === null ? null : Math.round(u.ttfbMs),
    source: u.source,
    errorCode: u.errorCode,
    errorMessage: u.errorMessage ?? null,
    detail: u.detail ? JSON.stringify(u.detail) : null,
    createdAt,
  };
}

export function fromRowItem(r: Record<string, unknown>): StoredUsageRow {
  const createdAt = r.createdAt as number;
  return {
    id: rowId(createdAt, r.requestId as string),
    requestId: r.requestId as string,
    keyId: (r.keyId as number | null) ?? null,
    keyName: (r.keyName as string | null) ?? null,
    endpoint: r.endpoint as string,
    model: (r.model as string | null) ?? null,
    upstreamModel: (r.upstreamModel as string | null) ?? null,
    channel: (r.channel as string | null) ?? null,
    status: r.status as number,
    promptTokens: r.promptTokens as number,
    completionTokens: r.completionTokens as number,
    cacheReadTokens: r.cacheReadTokens as number,
    cacheWrite5mTokens: r.cacheWrite5mTokens as number,
    cacheWrite1hTokens: r.cacheWrite1hTokens as number,
    reasoningTokens: r.reasoningTokens as number,
    costMicros: r.costMicros as number,
    latencyMs: r.latencyMs as number,
    ttfbMs: (r.ttfbMs as number | null) ?? null,
    source: r.source as StoredUsageRow['source'],
    errorCode: (r.errorCode as string | null) ?? null,
    errorMessage: (r.errorMessage as string | null) ?? null,
    detail: typeof r.detail === 'string' ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    createdAt,
  };
}

/** A row's contribution to its rollup, as stored (rounded). */
export function rowCounters(
  r: StoredUsageRow | ReturnType<typeof rowItem>,
): Record<Counter, number> {
  return {
    requests: 1,
    errors: r.status >= 400 ? 1 : 0,
    server_errors: r.status >= 500 ? 1 : 0,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cache_read_tokens: r.cacheReadTokens ?? 0,
    cache_write_5m_tokens: r.cacheWrite5mTokens ?? 0,
    cache_write_1h_tokens: r.cacheWrite1hTokens ?? 0,
    reasoning_tokens: r.reasoningTokens ?? 0,
    cost_micros: r.costMicros,
    latency_ms_sum: r.latencyMs,
    ttfb_ms_sum: r.ttfbMs ?? 0,
    ttfb_count: r.ttfbMs === null ? 0 : 1,
  };
}
