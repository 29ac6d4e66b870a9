import type {
  ChannelStats,
  ExportQuery,
  LiveStats,
  Page,
  RequestsQuery,
  UsageFilter,
  UsageGroupRow,
  UsageQueries,
  UsageReportQuery,
  UsageRetention,
} from '../admin-types.ts';
import { addDays } from '../../usage/days.ts';
import {
  CHANNEL_LATENCY_SAMPLE,
  LATENCY_SAMPLE,
  percentiles,
  REQUESTS_SCAN_BUDGET,
  sortReport,
} from '../sqlite-usage-queries.ts';
import type { StoredUsageRow } from '../types.ts';
import { rowSk } from './usage-items.ts';
import type { Counter } from './usage-items.ts';
import type { DynamoUsageStore } from './usage.ts';

const matches = (r: StoredUsageRow, f: UsageFilter) =>
  (f.key === undefined || r.keyName === f.key) &&
  (f.model === undefined || r.model === f.model) &&
  (f.channel === undefined || r.channel === f.channel);

function statusMatches(r: StoredUsageRow, status: RequestsQuery['status']): boolean {
  if (status === undefined) return true;
  if (status === 'error') return r.status >= 400;
  if (status === 'ok') return r.status < 400;
  return r.status === status;
}

const toGroup = (group: string, s: Record<Counter, number>): UsageGroupRow => ({
  group,
  requests: s.requests,
  errors: s.errors,
  serverErrors: s.server_errors,
  promptTokens: s.prompt_tokens,
  completionTokens: s.completion_tokens,
  cacheReadTokens: s.cache_read_tokens,
  cacheWrite5mTokens: s.cache_write_5m_tokens,
  cacheWrite1hTokens: s.cache_write_1h_tokens,
  reasoningTokens: s.reasoning_tokens,
  costMicros: s.cost_micros,
  latencyMsSum: s.latency_ms_sum,
  ttfbMsSum: s.ttfb_ms_sum,
  ttfbCount: s.ttfb_count,
});

/** The cursor of /requests: the position (sort key) of the last row shown. */
const encodeCursor = (r: StoredUsageRow) =>
  Buffer.from(rowSk(r.createdAt, r.requestId)).toString('base64url');
const decodeCursor = (c: string | undefined) =>
  c ? Buffer.from(c, 'base64url').toString() : undefined;

/**
 * The admin console's usage views on DynamoDB. Reports read the daily rollups (one Query per
 * day); "now" views, request lists and exports read raw rows through gsi1 (one partition per UTC
 * day, by time), filtered here: fine for the recent windows the console asks about, and bounded
 * by the same scan budgets as SQLite. Retention is DynamoDB's TTL: pruneBefore has nothing to do.
 */
export class DynamoUsageQueries implements UsageQueries, UsageRetention {
  readonly #usage: DynamoUsageStore;

  constructor(usage: DynamoUsageStore) {
    this.#usage = usage;
  }

  async report(q: UsageReportQuery): Promise<UsageGroupRow[]> {
    const groups = new Map<string, Record<Counter, number>>();
    for (const r of await this.#usage.rollups(q.fromDay, addDays(q.toDay, 1))) {
      if (!matches({ keyName: r.keyName, model: r.model, channel: r.channel } as StoredUsageRow, q))
        continue;
      const group = { day: r.day, key: r.keyName, model: r.model, channel: r.channel }[q.groupBy];
      const seen = groups.get(group);
      if (!seen) groups.set(group, { ...r.sums });
      else for (const c of Object.keys(r.sums) as Counter[]) seen[c] += r.sums[c];
    }
    return sortReport(
      [...groups].map(([g, s]) => toGroup(g, s)),
      q.groupBy,
    );
  }

  async live(q: { fromMs: number; toMs: number; bucketMs: number }): Promise<LiveStats> {
    const count = Math.max(1, Math.ceil((q.toMs - q.fromMs) / q.bucketMs));
    const buckets = Array.from({ length: count }, (_, i) => ({
      at: q.fromMs + i * q.bucketMs,
      requests: 0,
      errors: 0,
    }));
    let requests = 0;
    let errors = 0;
    let serverErrors = 0;
    let cost = 0;
    const latency: number[] = [];
    const ttfb: number[] = [];
    for await (const rows of this.#usage.rawRows(q.fromMs, q.toMs, { newestFirst: true })) {
      for (const r of rows) {
        const b = buckets[Math.floor((r.createdAt - q.fromMs) / q.bucketMs)]!;
        b.requests++;
        requests++;
        cost += r.costMicros;
        if (r.status >= 400) {
          b.errors++;
          errors++;
          if (r.status >= 500) serverErrors++;
        } else if (latency.length < LATENCY_SAMPLE) {
          latency.push(r.latencyMs);
          if (r.ttfbMs !== null) ttfb.push(r.ttfbMs);
        }
      }
    }
    return {
      requests,
      errors,
      serverErrors,
      costMicros: cost,
      latencyMs: percentiles(latency),
      ttfbMs: percentiles(ttfb),
      buckets,
    };
  }

  async channels(q: { fromMs: number; toMs: number }): Promise<ChannelStats[]> {
    const by = new Map<
      string,
      {
        first: number;
        requests: number;
        errors: number;
        serverErrors: number;
        latency: number[];
        lastError: ChannelStats['lastError'];
      }
    >();
    for await (const rows of this.#usage.rawRows(q.fromMs, q.toMs)) {
      for (const r of rows) {
        if (r.channel === null) continue;
        const s = by.get(r.channel) ?? {
          first: r.createdAt,
          requests: 0,
          errors: 0,
          serverErrors: 0,
          latency: [],
          lastError: null,
        };
        by.set(r.channel, s);
        s.requests++;
        if (r.status >= 400) {
          s.errors++;
          if (r.status >= 500) s.serverErrors++;
          s.lastError = {
            at: r.createdAt,
            status: r.status,
            code: r.errorCode,
            message: r.errorMessage ?? null,
          };
        } else s.latency.push(r.latencyMs);
      }
    }
    return [...by]
      .sort((a, b) => a[1].first - b[1].first)
      .map(([channel, s]) => ({
        channel,
        requests: s.requests,
        errors: s.errors,
        serverErrors: s.serverErrors,
        latencyMs: percentiles(s.latency.slice(-CHANNEL_LATENCY_SAMPLE)),
        lastError: s.lastError,
      }));
  }

  async lastUsed(keyIds: readonly number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const id of keyIds) {
      const [last] = await this.#usage.list({ keyId: id, limit: 1 });
      if (last) out.set(id, last.createdAt);
    }
    return out;
  }

  async requests(q: RequestsQuery): Promise<Page<StoredUsageRow>> {
    const after = decodeCursor(q.cursor);
    const rows: StoredUsageRow[] = [];
    let scanned = 0;
    let last: StoredUsageRow | undefined;
    const to = after ? Number(after.slice(0, 13)) + 1 : (q.toMs ?? Date.now() + 86_400_000);
    outer: for await (const page of this.#usage.rawRows(q.fromMs ?? 0, to, { newestFirst: true })) {
      for (const r of page) {
        if (after && rowSk(r.createdAt, r.requestId) >= after) continue;
        last = r;
        if (++scanned > REQUESTS_SCAN_BUDGET) break outer;
        if (
          !matches(r, q) ||
          !statusMatches(r, q.status) ||
          (q.requestId !== undefined && r.requestId !== q.requestId)
        )
          continue;
        rows.push(r);
        if (rows.length > q.limit) break outer;
      }
    }
    if (rows.length > q.limit)
      return { rows: rows.slice(0, q.limit), next: encodeCursor(rows[q.limit - 1]!) };
    if (scanned > REQUESTS_SCAN_BUDGET && last) return { rows, next: encodeCursor(last) };
    return { rows, next: null };
  }

  async *exportRows(q: ExportQuery): AsyncIterable<readonly StoredUsageRow[]> {
    for await (const page of this.#usage.rawRows(q.fromMs, q.toMs)) {
      const rows = page.filter((r) => matches(r, q));
      if (rows.length > 0) yield rows;
    }
  }

  /** DynamoDB's TTL deletes raw rows past retention by itself (within a day or two of expiry). */
  async pruneBefore(): Promise<number> {
    return 0;
  }
}
