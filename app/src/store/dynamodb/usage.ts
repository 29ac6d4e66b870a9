import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { addDays, DayCalendar } from '../../usage/days.ts';
import type { Micros, StoredUsageRow, UsageRow, UsageStore, UsageSummaryRow } from '../types.ts';
import { isConditionFailed } from './client.ts';
import type { Dynamo } from './client.ts';
import { ttlSeconds, USAGE_GSI } from './tables.ts';
import {
  COUNTERS,
  dayPk,
  fromRowItem,
  rollupPk,
  rowCounters,
  rowItem,
  rowPk,
  rowSk,
  utcDay,
} from './usage-items.ts';
import type { Counter } from './usage-items.ts';

const DAY_MS = 86_400_000;
/** Rollup days read at once. */
const PARALLEL_DAYS = 8;
/** Request ids whose row time this process remembers, so a retried settle writes the same row. */
const STAMPS_KEPT = 10_000;

export interface RollupRow {
  readonly day: string;
  readonly keyName: string;
  readonly model: string;
  readonly channel: string;
  readonly sums: Record<Counter, number>;
}

/** What putRow wrote, for the ledger to correct if the charge was capped. */
export interface WrittenRow {
  readonly fresh: boolean;
  readonly pk: string;
  readonly sk: string;
  readonly createdAt: number;
  /** The row's rollup counters, being added (resolves, never rejects). */
  readonly rolledUp: Promise<void>;
}

export class DynamoUsageStore implements UsageStore {
  readonly #d: Dynamo;
  readonly #retentionMs: number | null;
  readonly calendar: DayCalendar;
  /** The earliest rollup day this process knows is recorded. */
  #firstDay: string | undefined;
  readonly #stamps = new Map<string, number>();

  constructor(dynamo: Dynamo, options: { retentionDays?: number | null; timeZone?: string }) {
    this.#d = dynamo;
    this.#retentionMs = options.retentionDays ? options.retentionDays * DAY_MS : null;
    this.calendar = new DayCalendar(options.timeZone ?? 'UTC');
  }

  get #table(): string {
    return this.#d.tables.usage;
  }

  /**
   * Writes the raw row if it is not there yet (idempotent by request id and time), then adds it
   * to its day's rollup, once: only the call that wrote the row adds, and without SDK retries.
   */
  async putRow(u: UsageRow): Promise<WrittenRow> {
    const createdAt = this.#stamp(u.requestId);
    const item = rowItem(u, createdAt, this.#ttl(createdAt));
    const fresh = await this.#putNew(item);
    // Never rejects (a failed counter is reported): the ledger write goes alongside it.
    const rolledUp = fresh
      ? this.#addToRollup(item, rowCounters(item), createdAt)
      : Promise.resolve();
    return { fresh, pk: item.pk, sk: item.sk, createdAt, rolledUp };
  }

  #ttl(createdAt: number): number | undefined {
    return this.#retentionMs === null ? undefined : ttlSeconds(createdAt + this.#retentionMs);
  }

  /**
   * A row moved from another store, at its own time; its rollup comes with the import too, so
   * it is not added here. false when it was there already (or, in a dry run, would be).
   */
  async importRow(u: UsageRow, createdAt: number, dryRun: boolean): Promise<boolean> {
    const item = rowItem(u, createdAt, this.#ttl(createdAt));
    if (!dryRun) return this.#putNew(item);
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: item.pk, sk: item.sk },
        ConsistentRead: true,
      }),
    );
    return out.Item === undefined;
  }

  /** Sets a day's rollup row to `sums` (import); what that changed. */
  async setRollup(
    r: {
      day: string;
      keyName: string;
      model: string;
      channel: string;
      sums: Readonly<Record<string, number>>;
    },
    dryRun: boolean,
  ): Promise<'created' | 'updated' | 'unchanged'> {
    const key = { pk: rollupPk(r.day), sk: JSON.stringify([r.keyName, r.model, r.channel]) };
    const out = await this.#d.doc.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    const sums = Object.fromEntries(COUNTERS.map((c) => [c, r.sums[c] ?? 0]));
    if (out.Item && COUNTERS.every((c) => (out.Item![c] ?? 0) === sums[c])) return 'unchanged';
    if (!dryRun) {
      await this.#d.doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...key, keyName: r.keyName, model: r.model, channel: r.channel, ...sums },
        }),
      );
      await this.#noteDay(r.day);
    }
    return out.Item ? 'updated' : 'created';
  }

  /** Puts `item` unless a row with its key is there; whether it did. */
  async #putNew(item: ReturnType<typeof rowItem>): Promise<boolean> {
    try {
      await this.#d.doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return false;
    }
  }

  /** The row's time: the first attempt's, for a settle tried again in this process. */
  #stamp(requestId: string): number {
    const seen = this.#stamps.get(requestId);
    if (seen !== undefined) return seen;
    const now = this.#d.now();
    this.#stamps.set(requestId, now);
    if (this.#stamps.size > STAMPS_KEPT) this.#stamps.delete(this.#stamps.keys().next().value!);
    return now;
  }

  /** The charge was capped at what the key had left: the row and its rollup say so too. */
  async capRow(row: WrittenRow, u: UsageRow, charged: number): Promise<void> {
    const uncapped = Math.round(u.costMicros);
    await this.#d.doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: row.pk, sk: row.sk },
        UpdateExpression: 'SET costMicros = :c, detail = :d',
        ExpressionAttributeValues: {
          ':c': charged,
          ':d': JSON.stringify({ ...u.detail, uncappedCostMicros: Math.ceil(u.costMicros) }),
        },
      }),
    );
    if (row.fresh) {
      const zero = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>;
      await this.#addToRollup(
        { keyName: u.keyName, model: u.model, channel: u.channel },
        { ...zero, cost_micros: charged - uncapped },
        row.createdAt,
      );
    }
  }

  async #addToRollup(
    dims: { keyName: string | null; model: string | null; channel: string | null },
    sums: Record<Counter, number>,
    createdAt: number,
  ): Promise<void> {
    const day = this.calendar.dayOf(createdAt);
    const key = dims.keyName ?? '';
    const model = dims.model ?? '';
    const channel = dims.channel ?? '';
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':k': key, ':mo': model, ':ch': channel };
    COUNTERS.forEach((c, i) => {
      names[`#c${i}`] = c;
      values[`:v${i}`] = sums[c];
    });
    try {
      await this.#d.once.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: rollupPk(day), sk: JSON.stringify([key, model, channel]) },
          UpdateExpression: `SET keyName = :k, model = :mo, channel = :ch ADD ${COUNTERS.map((_, i) => `#c${i} :v${i}`).join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      await this.#noteDay(day);
    } catch (err) {
      // The raw row is written; only the rollup is short by this row (never counted twice).
      this.#d.emit({ kind: 'counter-failed', op: 'rollup', error: String(err) });
    }
  }

  async #noteDay(day: string): Promise<void> {
    if (this.#firstDay !== undefined && this.#firstDay <= day) return;
    try {
      await this.#d.doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: 'meta', sk: 'firstDay' },
          UpdateExpression: 'SET d = :d',
          ConditionExpression: 'attribute_not_exists(d) OR d > :d',
          ExpressionAttributeValues: { ':d': day },
        }),
      );
      this.#firstDay = day;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      this.#firstDay = undefined;
      await this.firstDay();
    }
  }

  /** The earliest day with a rollup, or null when there is no usage at all. */
  async firstDay(): Promise<string | null> {
    if (this.#firstDay !== undefined) return this.#firstDay;
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: 'meta', sk: 'firstDay' },
        ConsistentRead: true,
      }),
    );
    const day = out.Item?.d as string | undefined;
    if (day !== undefined) this.#firstDay = day;
    return day ?? null;
  }

  async record(row: UsageRow): Promise<void> {
    await (
      await this.putRow(row)
    ).rolledUp;
  }

  async *#query(input: QueryCommandInput): AsyncGenerator<Record<string, unknown>[]> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#d.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      yield page.Items ?? [];
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** Every raw row in [fromMs, toMs), by UTC day partition of gsi1; oldest first unless `newestFirst`. */
  async *rawRows(
    fromMs: number,
    toMs: number,
    options: { newestFirst?: boolean; key?: number } = {},
  ): AsyncGenerator<StoredUsageRow[]> {
    if (toMs <= fromMs) return;
    if (options.key !== undefined) {
      for await (const page of this.#query({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
        ExpressionAttributeValues: {
          ':pk': rowPk(options.key),
          ':a': rowSk(fromMs, ''),
          ':b': rowSk(toMs - 1, '\uffff'),
        },
        ScanIndexForward: !options.newestFirst,
        ConsistentRead: true,
      }))
        yield page.map(fromRowItem);
      return;
    }
    const first = await this.firstDay();
    if (first === null) return;
    const lo = Math.max(fromMs, this.calendar.startOf(addDays(first, -1)));
    const hi = Math.min(toMs, this.#d.now() + DAY_MS);
    const days: string[] = [];
    for (let day = utcDay(lo); day <= utcDay(hi - 1); day = addDays(day, 1)) days.push(day);
    if (options.newestFirst) days.reverse();
    for (const day of days) {
      for await (const page of this.#query({
        TableName: this.#table,
        IndexName: USAGE_GSI.name,
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :a AND :b',
        ExpressionAttributeValues: {
          ':pk': dayPk(day),
          ':a': rowSk(lo, ''),
          ':b': rowSk(hi - 1, '\uffff'),
        },
        ScanIndexForward: !options.newestFirst,
      }))
        yield page.map(fromRowItem);
    }
  }

  /** Rollup rows of days in [fromDay, toDay). */
  async rollups(fromDay: string, toDay: string): Promise<RollupRow[]> {
    const first = await this.firstDay();
    if (first === null) return [];
    const today = this.calendar.dayOf(this.#d.now());
    const days: string[] = [];
    for (
      let day = fromDay < first ? first : fromDay;
      day < toDay && day <= addDays(today, 1);
      day = addDays(day, 1)
    )
      days.push(day);
    const out: RollupRow[] = [];
    for (let i = 0; i < days.length; i += PARALLEL_DAYS) {
      const batches = await Promise.all(
        days.slice(i, i + PARALLEL_DAYS).map(async (day) => {
          const rows: RollupRow[] = [];
          for await (const page of this.#query({
            TableName: this.#table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': rollupPk(day) },
            ConsistentRead: true,
          }))
            for (const r of page)
              rows.push({
                day,
                keyName: r.keyName as string,
                model: r.model as string,
                channel: r.channel as string,
                sums: Object.fromEntries(
                  COUNTERS.map((c) => [c, (r[c] as number | undefined) ?? 0]),
                ) as Record<Counter, number>,
              });
          return rows;
        }),
      );
      for (const rows of batches) out.push(...rows);
    }
    return out;
  }

  /**
   * [fromMs, toMs) as whole days in the usage zone (from the rollups) and the partial days at
   * either end (from raw rows, which are there as long as retention keeps them).
   */
  split(
    fromMs: number,
    toMs: number,
  ): { fromDay: string; toDay: string; edges: [number, number][] } {
    const firstDayFrom = (ms: number) => {
      const t = Math.min(Math.max(ms, 0), Date.UTC(9999, 0, 1));
      const day = this.calendar.dayOf(t);
      return this.calendar.startOf(day) >= t ? day : addDays(day, 1);
    };
    const fromDay = firstDayFrom(fromMs);
    const toDay = firstDayFrom(toMs);
    if (fromDay >= toDay) return { fromDay, toDay: fromDay, edges: [[fromMs, toMs]] };
    return {
      fromDay,
      toDay,
      edges: [
        [fromMs, this.calendar.startOf(fromDay)],
        [this.calendar.startOf(toDay), toMs],
      ],
    };
  }

  async totalMicros(keyId: number, fromMs: number, toMs: number): Promise<Micros> {
    const name = await this.#keyName(keyId);
    const { fromDay, toDay, edges } = this.split(fromMs, toMs);
    let total = 0;
    if (name !== null)
      for (const r of await this.rollups(fromDay, toDay))
        if (r.keyName === name) total += r.sums.cost_micros;
    for (const [a, b] of edges)
      for await (const rows of this.rawRows(a, b, { key: keyId }))
        for (const r of rows) total += r.costMicros;
    return total;
  }

  async #keyName(keyId: number): Promise<string | null> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#d.tables.keys,
        Key: { pk: `key#${keyId}`, sk: 'key' },
        ProjectionExpression: '#n',
        ExpressionAttributeNames: { '#n': 'name' },
      }),
    );
    return (out.Item?.name as string | undefined) ?? null;
  }

  async list(filter: { keyId?: number; limit?: number } = {}): Promise<StoredUsageRow[]> {
    const limit = filter.limit ?? 1000;
    const out: StoredUsageRow[] = [];
    for await (const rows of this.rawRows(0, this.#d.now() + DAY_MS, {
      newestFirst: true,
      ...(filter.keyId !== undefined && { key: filter.keyId }),
    })) {
      out.push(...rows);
      if (out.length >= limit) break;
    }
    return out.slice(0, limit);
  }

  async summary(filter: {
    keyName?: string;
    fromMs: number;
    toMs: number;
  }): Promise<UsageSummaryRow[]> {
    const { fromDay, toDay, edges } = this.split(filter.fromMs, filter.toMs);
    const groups = new Map<string, UsageSummaryRow & { [k: string]: unknown }>();
    const add = (keyName: string | null, model: string | null, s: Record<Counter, number>) => {
      if (filter.keyName !== undefined && keyName !== filter.keyName) return;
      const id = JSON.stringify([keyName, model]);
      const g = groups.get(id) ?? {
        keyName,
        model,
        requests: 0,
        errors: 0,
        promptTokens: 0,
        completionTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        costMicros: 0,
      };
      groups.set(id, {
        ...g,
        requests: g.requests + s.requests,
        errors: g.errors + s.errors,
        promptTokens: g.promptTokens + s.prompt_tokens,
        completionTokens: g.completionTokens + s.completion_tokens,
        cacheReadTokens: g.cacheReadTokens + s.cache_read_tokens,
        cacheWriteTokens: g.cacheWriteTokens + s.cache_write_5m_tokens + s.cache_write_1h_tokens,
        reasoningTokens: g.reasoningTokens + s.reasoning_tokens,
        costMicros: g.costMicros + s.cost_micros,
      });
    };
    for (const r of await this.rollups(fromDay, toDay))
      add(r.keyName || null, r.model || null, r.sums);
    for (const [a, b] of edges)
      for await (const rows of this.rawRows(a, b))
        for (const r of rows) add(r.keyName, r.model, rowCounters(r));
    return [...groups.values()].sort(
      (a, b) => b.costMicros - a.costMicros || b.requests - a.requests,
    );
  }
}
