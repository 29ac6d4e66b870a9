import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { RequestsQuery } from './admin-types.ts';

/**
 * Indexes the admin filters walk, newest or oldest first: each filter's equality, then time (the
 * rowid, last in every index, breaks ties in the same order as `id`). The status indexes hold
 * only failures (a few per cent of rows, so they cost a write almost only when one fails): a
 * status below 400 is most rows and walks the time index. Created with the other usage indexes
 * at open.
 */
export const USAGE_FILTER_INDEXES = `
CREATE INDEX IF NOT EXISTS usage_key_name_time ON usage (key_name, created_at);
CREATE INDEX IF NOT EXISTS usage_model_time ON usage (model, created_at);
CREATE INDEX IF NOT EXISTS usage_channel_time ON usage (channel, created_at);
CREATE INDEX IF NOT EXISTS usage_status_time ON usage (status, created_at) WHERE status >= 400;
CREATE INDEX IF NOT EXISTS usage_error_time ON usage (created_at) WHERE status >= 400;
`;

/**
 * A key's rows (FROM this, then more conditions with AND; the key id is parameter ?1), by the
 * name index: there is no index on key_id (see USAGE_INDEXES in sqlite.ts). A key's name is
 * unique and never changes, and every row with a key id carries its key's name.
 */
export const KEY_ROWS = `usage INDEXED BY usage_key_name_time
  WHERE key_name = (SELECT name FROM keys WHERE id = ?1) AND key_id = ?1`;

export const FILTER_INDEX_NAMES = [
  'usage_key_name_time',
  'usage_model_time',
  'usage_channel_time',
  'usage_status_time',
  'usage_error_time',
] as const;

export type ScanFilter = Omit<RequestsQuery, 'cursor' | 'limit'>;

/** A position in (created_at, id) order. */
export type Position = readonly [createdAt: number, id: number];

interface Condition {
  readonly sql: string;
  readonly values: readonly SQLInputValue[];
}

/**
 * The index one filter drives the walk with, and the conditions it answers. Which filter drives
 * matters only for how many windows a rare match takes: every window is bounded either way.
 * Time bounds narrow whichever index drives: created_at comes right after its equality.
 */
function plan(f: ScanFilter): { index: string; driving: Condition[]; rest: Condition[] } {
  // (Time bounds are not here: scanWindow folds them with the cursor into one range.)
  const filters: [string, Condition][] = [];
  if (f.requestId !== undefined)
    filters.push(['usage_request', { sql: 'request_id = ?', values: [f.requestId] }]);
  if (f.key !== undefined)
    filters.push(['usage_key_name_time', { sql: 'key_name = ?', values: [f.key] }]);
  if (f.channel !== undefined)
    filters.push(['usage_channel_time', { sql: 'channel = ?', values: [f.channel] }]);
  if (f.model !== undefined)
    filters.push(['usage_model_time', { sql: 'model = ?', values: [f.model] }]);
  if (typeof f.status === 'number')
    filters.push(
      f.status >= 400
        ? ['usage_status_time', { sql: 'status = ? AND status >= 400', values: [f.status] }]
        : ['usage_time', { sql: 'status = ?', values: [f.status] }],
    );
  else if (f.status === 'error')
    filters.push(['usage_error_time', { sql: 'status >= 400', values: [] }]);
  else if (f.status === 'ok') filters.push(['usage_time', { sql: 'status < 400', values: [] }]);
  const first = filters.find(([index]) => index !== 'usage_time');
  return {
    index: first?.[0] ?? 'usage_time',
    driving: first ? [first[1]] : [],
    rest: filters.filter((c) => c !== first).map((c) => c[1]),
  };
}

const and = (parts: readonly Condition[]): Condition => ({
  sql: parts.map((p) => `(${p.sql})`).join(' AND ') || '1 = 1',
  values: parts.flatMap((p) => p.values),
});

export interface Window<Row> {
  readonly rows: Row[];
  /** Where the next window starts (exclusive); null once the walk has covered every row. */
  readonly next: Position | null;
}

/**
 * Walks usage rows matching `filter` in (created_at, id) order from just past `after`, looking
 * at no more than `budget` rows of the driving index, and returns up to `limit` matches. A
 * filter that matches rarely therefore costs one bounded window per call, never a full table
 * scan; the caller hands `next` back to go on.
 */
export function scanWindow<Row>(
  db: DatabaseSync,
  filter: ScanFilter,
  opts: {
    readonly order: 'asc' | 'desc';
    readonly after?: Position | undefined;
    readonly limit: number;
    readonly budget: number;
    readonly map: (row: Record<string, unknown>) => Row;
  },
): Window<Row> {
  const p = plan(filter);
  const asc = opts.order === 'asc';
  const dir = asc ? 'ASC' : 'DESC';
  const order = `ORDER BY created_at ${dir}, id ${dir}`;
  // One plain range on created_at, the tighter of the filter's bounds and the cursor: given a
  // bound and a row-value cursor apart, SQLite may start the index walk at the filter's bound
  // and step over every row before the cursor, which makes a long export quadratic.
  let lo = filter.fromMs ?? -Infinity;
  let hi = filter.toMs === undefined ? Infinity : filter.toMs - 1;
  const ties: Condition[] = [];
  const from = (at: Position | undefined, forward: boolean, inclusive: boolean) => {
    if (!at) return;
    if (forward) lo = Math.max(lo, at[0]);
    else hi = Math.min(hi, at[0]);
    const op = (forward ? '>' : '<') + (inclusive ? '=' : '');
    ties.push({ sql: `(created_at, id) ${op} (?, ?)`, values: [at[0], at[1]] });
  };
  const time = (): Condition[] => [
    ...(lo === -Infinity ? [] : [{ sql: 'created_at >= ?', values: [lo] }]),
    ...(hi === Infinity ? [] : [{ sql: 'created_at <= ?', values: [hi] }]),
    ...ties,
  ];
  from(opts.after, asc, false);
  if (lo > hi) return { rows: [], next: null };
  // The last row of the driving index this window may look at (a covering walk of the index).
  const edge = and([...p.driving, ...time()]);
  const found = db
    .prepare(
      `SELECT created_at, id FROM usage INDEXED BY ${p.index} WHERE ${edge.sql}
       ${order} LIMIT 1 OFFSET ?`,
    )
    .get(...edge.values, opts.budget - 1) as { created_at: number; id: number } | undefined;
  const bound: Position | undefined = found ? [found.created_at, found.id] : undefined;
  from(bound, !asc, true);
  const all = and([...p.driving, ...p.rest, ...time()]);
  const rows = db
    .prepare(`SELECT * FROM usage INDEXED BY ${p.index} WHERE ${all.sql} ${order} LIMIT ?`)
    .all(...all.values, opts.limit + 1) as Record<string, unknown>[];
  // One row more than asked says whether a full page has more after it.
  if (rows.length > opts.limit) {
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1]!;
    return { rows: page.map(opts.map), next: [last.created_at as number, last.id as number] };
  }
  return { rows: rows.map(opts.map), next: bound ?? null };
}
