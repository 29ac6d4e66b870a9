import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type {
  ChannelStats,
  ExportQuery,
  LiveStats,
  Page,
  Percentiles,
  RequestsQuery,
  UsageFilter,
  UsageGroup,
  UsageGroupRow,
  UsageQueries,
  UsageReportQuery,
  UsageRetention,
} from './admin-types.ts';
import { COUNTERS } from './sqlite-rollups.ts';
import type { DailyRollups, Dimension } from './sqlite-rollups.ts';
import { toStoredUsageRow } from './sqlite-rows.ts';
import { KEY_ROWS, scanWindow } from './sqlite-usage-scan.ts';
import type { Position } from './sqlite-usage-scan.ts';
import { addDays } from '../usage/days.ts';
import type { StoredUsageRow } from './types.ts';

const GROUP_COLUMN: Record<UsageGroup, string> = {
  key: 'key_name',
  model: 'model',
  channel: 'channel',
  day: 'day',
};

/**
 * Rows of an index one page of /requests may look at: a filter that matches rarely answers a
 * short (even empty) page with a cursor to go on, instead of walking a million rows at once.
 */
export const REQUESTS_SCAN_BUDGET = 5_000;

/** Successful requests the overview's latency percentiles are taken from, newest first. */
export const LATENCY_SAMPLE = 10_000;

/** Successful requests per channel its latency percentiles are taken from, newest first. */
export const CHANNEL_LATENCY_SAMPLE = 2_000;

/** Rows an export step looks at before it hands the event loop back to other requests. */
export const EXPORT_STEP = 250;

const SUMS = COUNTERS.map((c) => `SUM(${c}) AS ${c}`).join(', ');

/** The one dimension that can answer `q` from usage_daily_dim, if any. */
function dimensionFor(q: UsageReportQuery): Dimension | undefined {
  const filters = (['key', 'model', 'channel'] as const).filter((d) => q[d] !== undefined);
  if (q.groupBy === 'day') {
    if (filters.length === 0) return 'channel';
    return filters.length === 1 ? filters[0] : undefined;
  }
  return filters.every((d) => d === q.groupBy) ? q.groupBy : undefined;
}

/** Sums rows of the same group (finished days from one table, today from the other). */
function mergeGroups(rows: readonly UsageGroupRow[]): UsageGroupRow[] {
  const by = new Map<string, Record<string, number | string>>();
  for (const r of rows) {
    const seen = by.get(r.group);
    if (!seen) by.set(r.group, { ...r });
    else
      for (const [k, v] of Object.entries(r))
        if (typeof v === 'number') seen[k] = (seen[k] as number) + v;
  }
  return [...by.values()] as unknown as UsageGroupRow[];
}

/** Days in order; anything else by cost, then requests, then name. */
export function sortReport(rows: UsageGroupRow[], groupBy: UsageGroup): UsageGroupRow[] {
  if (groupBy === 'day') return rows.sort((a, b) => (a.group < b.group ? -1 : 1));
  return rows.sort(
    (a, b) =>
      b.costMicros - a.costMicros ||
      b.requests - a.requests ||
      (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
  );
}

/** Nearest-rank percentile of values sorted ascending. */
function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** `AND column = ?` for each filter given, with its values. */
function filterSql(f: UsageFilter): { sql: string; values: SQLInputValue[] } {
  const parts: string[] = [];
  const values: SQLInputValue[] = [];
  for (const [field, column] of [
    ['key', 'key_name'],
    ['model', 'model'],
    ['channel', 'channel'],
  ] as const) {
    const value = f[field];
    if (value !== undefined) {
      parts.push(`AND ${column} = ?`);
      values.push(value);
    }
  }
  return { sql: parts.join(' '), values };
}

/** "createdAt.id": where the next page starts; rows are ordered by (created_at, id). */
const cursorOf = (p: Position) => `${p[0]}.${p[1]}`;

function parseCursor(cursor: string | undefined): Position | undefined {
  if (!cursor) return undefined;
  const m = /^(\d+)\.(\d+)$/.exec(cursor);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Reports from the daily rollups; "now" views from raw rows of a recent window through the
 * created_at index; request lists and exports through the index of their first filter, a
 * bounded window at a time (sqlite-usage-scan.ts), so no query scans the whole usage table.
 */
export class SqliteUsageQueries implements UsageQueries, UsageRetention {
  readonly #db: DatabaseSync;
  readonly #rollups: DailyRollups;
  /** Awaited before each read: the settlements the group commit still holds are written. */
  readonly #committed: () => Promise<void>;

  constructor(db: DatabaseSync, rollups: DailyRollups, committed: () => Promise<void>) {
    this.#db = db;
    this.#rollups = rollups;
    this.#committed = committed;
  }

  /**
   * From usage_daily_dim for finished days when one dimension answers the question (grouped
   * by it, or by day with at most that one filter), from usage_daily for the rest.
   */
  async report(q: UsageReportQuery): Promise<UsageGroupRow[]> {
    await this.#committed();
    const dim = dimensionFor(q);
    if (!dim) return sortReport(this.#fromFull(q, q.fromDay, q.toDay), q.groupBy);
    const sealed = this.#rollups.seal();
    const parts: UsageGroupRow[] = [];
    const sealedTo = sealed < q.toDay ? sealed : q.toDay;
    if (q.fromDay <= sealedTo) parts.push(...this.#fromDim(q, dim, q.fromDay, sealedTo));
    const openFrom = sealed === '' || q.fromDay > sealed ? q.fromDay : addDays(sealed, 1);
    if (openFrom <= q.toDay) parts.push(...this.#fromFull(q, openFrom, q.toDay));
    return sortReport(mergeGroups(parts), q.groupBy);
  }

  #fromFull(q: UsageReportQuery, fromDay: string, toDay: string): UsageGroupRow[] {
    const f = filterSql(q);
    return this.#sum(
      `SELECT ${GROUP_COLUMN[q.groupBy]} AS grp, ${SUMS} FROM usage_daily
       WHERE day >= ? AND day <= ? ${f.sql} GROUP BY grp`,
      [fromDay, toDay, ...f.values],
    );
  }

  #fromDim(q: UsageReportQuery, dim: Dimension, fromDay: string, toDay: string): UsageGroupRow[] {
    const filter = q[dim];
    return this.#sum(
      `SELECT ${q.groupBy === 'day' ? 'day' : 'value'} AS grp, ${SUMS} FROM usage_daily_dim
       WHERE dim = ? AND day >= ? AND day <= ? ${filter === undefined ? '' : 'AND value = ?'}
       GROUP BY grp`,
      [dim, fromDay, toDay, ...(filter === undefined ? [] : [filter])],
    );
  }

  #sum(sql: string, values: SQLInputValue[]): UsageGroupRow[] {
    const rows = this.#db.prepare(sql).all(...values) as Record<string, number | string>[];
    return rows.map((r) => ({
      group: String(r.grp),
      requests: Number(r.requests),
      errors: Number(r.errors),
      serverErrors: Number(r.server_errors),
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      cacheReadTokens: Number(r.cache_read_tokens),
      cacheWrite5mTokens: Number(r.cache_write_5m_tokens),
      cacheWrite1hTokens: Number(r.cache_write_1h_tokens),
      reasoningTokens: Number(r.reasoning_tokens),
      costMicros: Number(r.cost_micros),
      latencyMsSum: Number(r.latency_ms_sum),
      ttfbMsSum: Number(r.ttfb_ms_sum),
      ttfbCount: Number(r.ttfb_count),
    }));
  }

  /**
   * Counts per bucket are summed by SQLite (a busy hour is hundreds of thousands of rows, which
   * the event loop should not see one by one); latency percentiles come from the newest
   * LATENCY_SAMPLE successes, which is plenty for a p99 and bounded however busy the hour.
   */
  async live(q: { fromMs: number; toMs: number; bucketMs: number }): Promise<LiveStats> {
    await this.#committed();
    const sums = this.#db
      .prepare(
        `SELECT (created_at - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS bucket,
           COUNT(*) AS requests, SUM(status >= 400) AS errors, SUM(status >= 500) AS server_errors,
           SUM(cost_micros) AS cost
         FROM usage INDEXED BY usage_time WHERE created_at >= ? AND created_at < ?
         GROUP BY bucket`,
      )
      .all(q.fromMs, q.bucketMs, q.fromMs, q.toMs) as {
      bucket: number;
      requests: number;
      errors: number;
      server_errors: number;
      cost: number;
    }[];
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
    for (const b of sums) {
      const bucket = buckets[b.bucket]!;
      bucket.requests = b.requests;
      bucket.errors = b.errors;
      requests += b.requests;
      errors += b.errors;
      serverErrors += b.server_errors;
      cost += b.cost;
    }
    const stmt = this.#db.prepare(
      `SELECT latency_ms, ttfb_ms FROM usage INDEXED BY usage_time
       WHERE created_at >= ? AND created_at < ? AND status < 400
       ORDER BY created_at DESC LIMIT ?`,
    );
    stmt.setReturnArrays(true);
    const sample = stmt.all(q.fromMs, q.toMs, LATENCY_SAMPLE) as unknown as [
      number,
      number | null,
    ][];
    const latency: number[] = [];
    const ttfb: number[] = [];
    for (const [latencyMs, ttfbMs] of sample) {
      latency.push(latencyMs);
      if (ttfbMs !== null) ttfb.push(ttfbMs);
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

  /**
   * Never row by row in JS, and never the window's table rows: requests are counted on the
   * (channel, time) index alone, failures (a few percent) read through the errors-only index,
   * and latency percentiles come from each channel's newest CHANNEL_LATENCY_SAMPLE successes.
   */
  async channels(q: { fromMs: number; toMs: number }): Promise<ChannelStats[]> {
    await this.#committed();
    // Every channel name ever seen, one index step each (a handful, however many rows).
    const names = (
      this.#db
        .prepare(
          `WITH RECURSIVE ch(name) AS (
             SELECT MIN(channel) FROM usage INDEXED BY usage_channel_time WHERE channel IS NOT NULL
             UNION ALL
             SELECT (SELECT MIN(channel) FROM usage INDEXED BY usage_channel_time
                     WHERE channel > ch.name)
             FROM ch WHERE ch.name IS NOT NULL)
           SELECT name FROM ch WHERE name IS NOT NULL`,
        )
        .all() as { name: string }[]
    ).map((r) => r.name);
    const count = this.#db.prepare(
      `SELECT COUNT(*) AS n, MIN(created_at) AS first FROM usage INDEXED BY usage_channel_time
       WHERE channel = ? AND created_at >= ? AND created_at < ?`,
    );
    // Bare columns next to MAX() come from the row holding the maximum: the last error.
    const failures = this.#db
      .prepare(
        `SELECT channel, COUNT(*) AS errors, SUM(status >= 500) AS server_errors,
           MAX(created_at) AS at, status, error_code AS code, error_message AS message
         FROM usage INDEXED BY usage_error_time
         WHERE status >= 400 AND created_at >= ? AND created_at < ? AND channel IS NOT NULL
         GROUP BY channel`,
      )
      .all(q.fromMs, q.toMs) as {
      channel: string;
      errors: number;
      server_errors: number;
      at: number;
      status: number;
      code: string | null;
      message: string | null;
    }[];
    const failed = new Map(failures.map((f) => [f.channel, f]));
    const latency = this.#db.prepare(
      `SELECT latency_ms FROM usage INDEXED BY usage_channel_time
       WHERE channel = ? AND created_at >= ? AND created_at < ? AND status < 400
       ORDER BY created_at DESC LIMIT ?`,
    );
    latency.setReturnArrays(true);
    const stats: (ChannelStats & { first: number })[] = [];
    for (const channel of names) {
      const { n, first } = count.get(channel, q.fromMs, q.toMs) as { n: number; first: number };
      if (n === 0) continue;
      const f = failed.get(channel);
      const sample = latency.all(channel, q.fromMs, q.toMs, CHANNEL_LATENCY_SAMPLE) as unknown as [
        number,
      ][];
      stats.push({
        channel,
        first,
        requests: n,
        errors: f?.errors ?? 0,
        serverErrors: f?.server_errors ?? 0,
        latencyMs: percentiles(sample.map(([ms]) => ms)),
        lastError: f ? { at: f.at, status: f.status, code: f.code, message: f.message } : null,
      });
    }
    return stats.sort((x, y) => x.first - y.first).map(({ first: _, ...s }) => s);
  }

  async lastUsed(keyIds: readonly number[]): Promise<Map<number, number>> {
    await this.#committed();
    // Newest first by the name index, the first row with the key's id: its rows end the walk
    // at once unless a deleted key of the same name has rows newer than this key's last one.
    const stmt = this.#db.prepare(
      `SELECT MAX(created_at) AS t FROM (SELECT created_at FROM ${KEY_ROWS}
       ORDER BY created_at DESC LIMIT 1)`,
    );
    const out = new Map<number, number>();
    for (const id of keyIds) {
      const row = stmt.get(id) as { t: number | null };
      if (row.t !== null) out.set(id, row.t);
    }
    return out;
  }

  async requests(q: RequestsQuery): Promise<Page<StoredUsageRow>> {
    await this.#committed();
    const { cursor, limit, ...filter } = q;
    const page = scanWindow(this.#db, filter, {
      order: 'desc',
      after: parseCursor(cursor),
      limit,
      budget: REQUESTS_SCAN_BUDGET,
      map: toStoredUsageRow,
    });
    return { rows: page.rows, next: page.next ? cursorOf(page.next) : null };
  }

  /** Bounded steps, each after a turn of the event loop: a long export never starves requests. */
  async *exportRows(q: ExportQuery): AsyncIterable<readonly StoredUsageRow[]> {
    await this.#committed();
    let after: Position | undefined;
    for (let step = 0; ; step++) {
      if (step > 0) await nextTurn();
      const window = scanWindow(this.#db, q, {
        order: 'asc',
        after,
        limit: EXPORT_STEP,
        budget: EXPORT_STEP,
        map: toStoredUsageRow,
      });
      if (window.rows.length > 0) yield window.rows;
      if (!window.next) return;
      after = window.next;
    }
  }

  async pruneBefore(cutoffMs: number, batchSize: number): Promise<number> {
    const res = this.#db
      .prepare(
        `DELETE FROM usage WHERE id IN
           (SELECT id FROM usage WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .run(cutoffMs, batchSize);
    return Number(res.changes);
  }
}
