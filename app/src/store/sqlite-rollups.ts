import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { addDays } from '../usage/days.ts';
import { DayCalendar } from '../usage/days.ts';
import type { UsageRow } from './types.ts';

/** What a rollup row sums, in both rollup tables. */
export const COUNTERS = [
  'requests',
  'errors',
  'server_errors',
  'prompt_tokens',
  'completion_tokens',
  'cache_read_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'reasoning_tokens',
  'cost_micros',
  'latency_ms_sum',
  'ttfb_ms_sum',
  'ttfb_count',
] as const;

const counterColumns = COUNTERS.map((c) => `  ${c} INTEGER NOT NULL,`).join('\n');

/**
 * Daily totals per key, model and channel, written in the same transaction as each usage row,
 * so charts and reports read thousands of rollup rows instead of millions of raw ones, and
 * keep working after the raw rows are pruned. Days are calendar days in the configured zone.
 *
 * usage_daily_dim holds the same totals per single dimension (key, model or channel) for days
 * that are over: a report by key over 90 days reads days × keys rows, not days × keys × models
 * × channels. It is derived once per finished day (seal), so a usage row still costs one upsert.
 */
export const ROLLUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS usage_daily (
  day TEXT NOT NULL,
  key_name TEXT NOT NULL,
  model TEXT NOT NULL,
  channel TEXT NOT NULL,
${counterColumns}
  PRIMARY KEY (day, key_name, model, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_daily_dim (
  dim TEXT NOT NULL,
  day TEXT NOT NULL,
  value TEXT NOT NULL,
${counterColumns}
  PRIMARY KEY (dim, day, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The single dimensions usage_daily_dim keeps, and their column in usage_daily. */
export const DIMENSIONS = { key: 'key_name', model: 'model', channel: 'channel' } as const;
export type Dimension = keyof typeof DIMENSIONS;

/** Adds a row's counters to the rollup row with the same key, or starts one. */
const upsert = (table: string, key: readonly string[]) =>
  `INSERT INTO ${table} (${[...key, ...COUNTERS].join(', ')})
   VALUES (${[...key, ...COUNTERS].map(() => '?').join(', ')})
   ON CONFLICT (${key.join(', ')}) DO UPDATE SET
   ${COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

const UPSERT = upsert('usage_daily', ['day', 'key_name', 'model', 'channel']);
const UPSERT_DIM = upsert('usage_daily_dim', ['dim', 'day', 'value']);

interface RawRow {
  key_name: string | null;
  model: string | null;
  channel: string | null;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache_read_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
  latency_ms: number;
  ttfb_ms: number | null;
  created_at: number;
}

function counters(r: RawRow): number[] {
  return [
    1,
    r.status >= 400 ? 1 : 0,
    r.status >= 500 ? 1 : 0,
    r.prompt_tokens,
    r.completion_tokens,
    r.cache_read_tokens,
    r.cache_write_5m_tokens,
    r.cache_write_1h_tokens,
    r.reasoning_tokens,
    r.cost_micros,
    r.latency_ms,
    r.ttfb_ms ?? 0,
    r.ttfb_ms === null ? 0 : 1,
  ];
}

/** A rollup row's key: day, key name, model, channel. */
type RollupRow = [day: string, key: string, model: string, channel: string];

const ZONE_KEY = 'rollup_time_zone';
const SEALED_KEY = 'rollup_dims_sealed_through';
const REBUILD_BATCH = 10_000;
const LAST_DAY_MS = Date.UTC(9999, 0, 1);
/** A day is sealed this long after it ended: rows stamped by a process whose clock lags still land. */
const SEAL_DELAY_MS = 5 * 60_000;

export class DailyRollups {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;
  readonly #now: () => number;
  /** The last day usage_daily_dim covers, as this process last saw it. */
  #sealed: string;
  /** While gathering(): the sums of the rows added, per rollup row. */
  #gathered: Map<string, { row: RollupRow; sums: number[] }> | undefined;
  readonly calendar: DayCalendar;

  constructor(db: DatabaseSync, calendar: DayCalendar, now: () => number) {
    this.#db = db;
    this.calendar = calendar;
    this.#now = now;
    this.#upsert = db.prepare(UPSERT);
    this.#sealed = this.#meta(SEALED_KEY) ?? '';
  }

  #meta(name: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as
      { value: string } | undefined;
    return row?.value;
  }

  #setMeta(name: string, value: string): void {
    this.#db
      .prepare(
        'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      )
      .run(name, value);
  }

  /**
   * Derives usage_daily_dim for every finished day not derived yet; returns the last day it
   * covers ('' for none). Days after it are read from usage_daily.
   */
  seal(): string {
    const sealed = (this.#sealed = this.#meta(SEALED_KEY) ?? '');
    const lastFinished = addDays(this.calendar.dayOf(this.#now() - SEAL_DELAY_MS), -1);
    if (sealed >= lastFinished) return sealed;
    const sums = COUNTERS.map((c) => `SUM(${c})`).join(', ');
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      // Another process may have sealed while this one waited for the lock.
      const current = this.#meta(SEALED_KEY) ?? '';
      if (current < lastFinished) {
        this.#db
          .prepare('DELETE FROM usage_daily_dim WHERE day > ? AND day <= ?')
          .run(current, lastFinished);
        for (const [dim, column] of Object.entries(DIMENSIONS)) {
          this.#db
            .prepare(
              `INSERT INTO usage_daily_dim (dim, day, value, ${COUNTERS.join(', ')})
               SELECT ?, day, ${column}, ${sums} FROM usage_daily
               WHERE day > ? AND day <= ? GROUP BY day, ${column}`,
            )
            .run(dim, current, lastFinished);
        }
        this.#setMeta(SEALED_KEY, lastFinished);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    this.#sealed = lastFinished;
    return lastFinished;
  }

  /**
   * How to answer totals over [fromMs, toMs) when raw rows may have been pruned: whole days
   * from `fromDay` up to (not including) `toDay` from the rollups, the rest from raw rows at
   * or after `rawFrom`. Raw rows are only trusted from the first day after the earliest one
   * kept (pruning may have cut that day short); a day is counted when it begins in the range.
   */
  split(fromMs: number, toMs: number): { fromDay: string; toDay: string; rawFrom: number } {
    const first = this.#db.prepare('SELECT MIN(created_at) AS t FROM usage').get() as {
      t: number | null;
    };
    const edge = first.t === null ? toMs : this.#rawEdge(first.t);
    const to = Math.min(toMs, edge);
    const fromDay = this.#firstDayFrom(fromMs);
    const toDay = this.#firstDayFrom(to);
    return { fromDay, toDay, rawFrom: Math.max(fromMs, this.calendar.startOf(toDay), edge) };
  }

  /** Where raw rows are whole: the earliest kept row's day, unless pruning cut it short. */
  #rawEdge(firstRaw: number): number {
    const day = this.calendar.dayOf(firstRaw);
    const start = this.calendar.startOf(day);
    const next = this.calendar.startOf(addDays(day, 1));
    const rolled = this.#db
      .prepare('SELECT COALESCE(SUM(requests), 0) AS n FROM usage_daily WHERE day = ?')
      .get(day) as { n: number };
    const raw = this.#db
      .prepare('SELECT COUNT(*) AS n FROM usage WHERE created_at >= ? AND created_at < ?')
      .get(start, next) as { n: number };
    return rolled.n === raw.n ? start : next;
  }

  #firstDayFrom(ms: number): string {
    // "Since ever" and "until forever" arrive as 0 and MAX_SAFE_INTEGER: four-digit years.
    const t = Math.min(Math.max(ms, 0), LAST_DAY_MS);
    const day = this.calendar.dayOf(t);
    return this.calendar.startOf(day) >= t ? day : addDays(day, 1);
  }

  /** The zone the stored rollups were written in, if any. */
  static storedZone(db: DatabaseSync): string | undefined {
    const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(ZONE_KEY) as
      { value: string } | undefined;
    return row?.value;
  }

  /** Adds one usage row (already rounded as stored) to its day; call inside the row's transaction. */
  add(u: UsageRow, createdAt: number): void {
    const day = this.calendar.dayOf(createdAt);
    const sums = counters({
      key_name: u.keyName,
      model: u.model,
      channel: u.channel,
      status: u.status,
      prompt_tokens: u.promptTokens,
      completion_tokens: u.completionTokens,
      cache_read_tokens: u.cacheReadTokens ?? 0,
      cache_write_5m_tokens: u.cacheWrite5mTokens ?? 0,
      cache_write_1h_tokens: u.cacheWrite1hTokens ?? 0,
      reasoning_tokens: u.reasoningTokens ?? 0,
      cost_micros: Math.round(u.costMicros),
      latency_ms: Math.round(u.latencyMs),
      ttfb_ms: u.ttfbMs === null ? null : Math.round(u.ttfbMs),
      created_at: createdAt,
    });
    const row: RollupRow = [day, u.keyName ?? '', u.model ?? '', u.channel ?? ''];
    const gathered = this.#gathered;
    if (!gathered) return this.#write(row, sums);
    const id = row.join('\u0000');
    const seen = gathered.get(id);
    if (!seen) gathered.set(id, { row, sums });
    else sums.forEach((n, i) => (seen.sums[i]! += n));
  }

  /**
   * add() calls made during `fn` are summed per rollup row and written once each when it ends,
   * in the same transaction: a group commit's rows mostly share their day, key, model and
   * channel, so one upsert serves them all. Nothing may read the rollups meanwhile.
   */
  gathering<T>(fn: () => T): T {
    if (this.#gathered) return fn();
    const gathered = new Map<string, { row: RollupRow; sums: number[] }>();
    this.#gathered = gathered;
    try {
      const out = fn();
      for (const { row, sums } of gathered.values()) this.#write(row, sums);
      return out;
    } finally {
      this.#gathered = undefined;
    }
  }

  #write([day, key, model, channel]: RollupRow, sums: number[]): void {
    this.#upsert.run(day, key, model, channel, ...sums);
    // A row for a day already sealed (a clock set back): its single-dimension totals too.
    if (day <= this.#sealed) {
      const dim = this.#db.prepare(UPSERT_DIM);
      dim.run('key', day, key, ...sums);
      dim.run('model', day, model, ...sums);
      dim.run('channel', day, channel, ...sums);
    }
  }

  /**
   * Brings the rollups to this calendar: built from the raw rows for a database from before
   * rollups (no `previousZone`), or, when the zone changed, every raw row still kept moved from
   * its day in the previous zone to its day in this one. Rows already pruned stay counted on the
   * day they were (a day half pruned keeps its whole spend). One transaction, so a crash halfway
   * leaves the old rollups.
   */
  rebuild(previousZone?: string): void {
    const first = this.#db.prepare('SELECT MIN(created_at) AS t FROM usage').get() as {
      t: number | null;
    };
    const previous = previousZone === undefined ? null : new DayCalendar(previousZone);
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      if (first.t !== null) {
        if (!previous)
          this.#db
            .prepare('DELETE FROM usage_daily WHERE day >= ?')
            .run(this.calendar.dayOf(first.t));
        const batch = this.#db.prepare(
          `SELECT id, key_name, model, channel, status, prompt_tokens, completion_tokens,
             cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens,
             cost_micros, latency_ms, ttfb_ms, created_at
           FROM usage WHERE id > ? ORDER BY id LIMIT ${REBUILD_BATCH}`,
        );
        const totals = new Map<string, { key: string[]; sums: number[] }>();
        const move = (day: string, r: RawRow, sign: number) => {
          const key = [day, r.key_name ?? '', r.model ?? '', r.channel ?? ''];
          const id = key.join('\u0000');
          const add = counters(r).map((v) => sign * v);
          const entry = totals.get(id);
          if (entry) add.forEach((v, i) => (entry.sums[i]! += v));
          else totals.set(id, { key, sums: add });
        };
        for (let after = 0; ;) {
          const rows = batch.all(after) as unknown as (RawRow & { id: number })[];
          for (const r of rows) {
            const day = this.calendar.dayOf(r.created_at);
            const was = previous?.dayOf(r.created_at);
            if (was === day) continue;
            move(day, r, 1);
            if (was !== undefined) move(was, r, -1);
          }
          if (rows.length < REBUILD_BATCH) break;
          after = rows[rows.length - 1]!.id;
        }
        for (const { key, sums } of totals.values()) this.#upsert.run(...key, ...sums);
        // Days every kept row moved away from (none was pruned from them).
        this.#db.exec('DELETE FROM usage_daily WHERE requests <= 0');
      }
      // Derived again from the rebuilt days at the next report.
      this.#db.exec('DELETE FROM usage_daily_dim');
      this.#setMeta(SEALED_KEY, '');
      this.#sealed = '';
      this.#setMeta(ZONE_KEY, this.calendar.timeZone);
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }
}
