import { createRoute, z } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { stringify } from 'csv-stringify/sync';
import { invalidRequest } from '../errors.ts';
import type { UsageFilter, UsageGroupRow, UsageTotals } from '../store/admin-types.ts';
import type { StoredUsageRow } from '../store/types.ts';
import { addDays } from '../usage/days.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { usd } from './money.ts';
import {
  ExportQuerySchema,
  UsageQuerySchema,
  UsageReportSchema,
  commonErrors,
  jsonResponse,
} from './schemas.ts';

const tags = ['Usage'];

/** Longest range one report covers: the rollups are small, but a typo like 1026 should not scan decades. */
const MAX_DAYS = 731;

const EMPTY: UsageTotals = {
  requests: 0,
  errors: 0,
  serverErrors: 0,
  promptTokens: 0,
  completionTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  costMicros: 0,
  latencyMsSum: 0,
  ttfbMsSum: 0,
  ttfbCount: 0,
};

export function sumTotals(rows: readonly UsageTotals[]): UsageTotals {
  const out: Record<string, number> = { ...EMPTY };
  for (const r of rows) for (const k of Object.keys(EMPTY)) out[k]! += r[k as keyof UsageTotals];
  return out as unknown as UsageTotals;
}

export function presentTotals(group: string, t: UsageTotals) {
  return {
    group,
    requests: t.requests,
    errors: t.errors,
    serverErrors: t.serverErrors,
    promptTokens: t.promptTokens,
    completionTokens: t.completionTokens,
    cacheReadTokens: t.cacheReadTokens,
    cacheWrite5mTokens: t.cacheWrite5mTokens,
    cacheWrite1hTokens: t.cacheWrite1hTokens,
    reasoningTokens: t.reasoningTokens,
    costUsd: usd(t.costMicros),
    avgLatencyMs: t.requests > 0 ? Math.round(t.latencyMsSum / t.requests) : null,
    avgTtfbMs: t.ttfbCount > 0 ? Math.round(t.ttfbMsSum / t.ttfbCount) : null,
  };
}

/** from..to as days, defaulting to the 30 days up to today, checked for order and length. */
export function dayRange(ctx: AdminContext, from?: string, to?: string) {
  const last = to ?? ctx.calendar.dayOf(ctx.rt.clock.now());
  const first = from ?? addDays(last, -29);
  if (first > last) throw invalidRequest('"from" must not be after "to".', 'from');
  if (first < addDays(last, -MAX_DAYS)) {
    throw invalidRequest(`A range covers at most ${MAX_DAYS} days.`, 'from');
  }
  return { from: first, to: last };
}

const CSV_COLUMNS = [
  'time',
  'request_id',
  'key',
  'endpoint',
  'model',
  'upstream_model',
  'channel',
  'status',
  'prompt_tokens',
  'completion_tokens',
  'cache_read_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'reasoning_tokens',
  'cost_usd',
  'latency_ms',
  'ttfb_ms',
  'source',
  'error_code',
  'error_message',
];

/**
 * A spreadsheet runs a cell as a formula when it starts with = + - @ (or their full-width
 * forms), a tab or a carriage return, and some do so after leading blanks too. Such text
 * (model names, key names and error messages all come from clients or upstreams) gets a
 * leading apostrophe, which spreadsheets show as text and hide.
 */
const FORMULA_START = /^[\s\u00a0\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]/;

export const defuse = (cell: string | null): string | null =>
  cell !== null && FORMULA_START.test(cell) ? `'${cell}` : cell;

const csvRow = (r: StoredUsageRow) => [
  new Date(r.createdAt).toISOString(),
  defuse(r.requestId),
  defuse(r.keyName),
  defuse(r.endpoint),
  defuse(r.model),
  defuse(r.upstreamModel),
  defuse(r.channel),
  r.status,
  r.promptTokens,
  r.completionTokens,
  r.cacheReadTokens ?? 0,
  r.cacheWrite5mTokens ?? 0,
  r.cacheWrite1hTokens ?? 0,
  r.reasoningTokens ?? 0,
  usd(r.costMicros),
  r.latencyMs,
  r.ttfbMs,
  defuse(r.source),
  defuse(r.errorCode),
  defuse(r.errorMessage ?? null),
];

/**
 * CSV of raw rows, a batch at a time as the client reads: memory stays flat whatever the
 * range, and the store hands the event loop back between batches. Formula-like cells are
 * defused above (csv-stringify's own escaping misses leading blanks).
 */
function csvStream(batches: AsyncIterable<readonly StoredUsageRow[]>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = batches[Symbol.asyncIterator]();
  let header = true;
  return new ReadableStream({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        if (header) controller.enqueue(encoder.encode(stringify([CSV_COLUMNS])));
        controller.close();
        return;
      }
      const text = stringify(next.value.map(csvRow), {
        header,
        columns: CSV_COLUMNS,
        escape_formulas: true,
      });
      header = false;
      controller.enqueue(encoder.encode(text));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

const filterOf = (q: UsageFilter): UsageFilter => ({
  ...(q.key !== undefined && { key: q.key }),
  ...(q.model !== undefined && { model: q.model }),
  ...(q.channel !== undefined && { channel: q.channel }),
});

export function registerUsageRoutes(api: OpenAPIHono<AdminEnv>, ctx: AdminContext) {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/usage',
      tags,
      summary: 'Requests, tokens and cost by key, model, channel or day (daily rollups)',
      request: { query: UsageQuerySchema },
      responses: { 200: jsonResponse(UsageReportSchema, 'The report'), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const range = dayRange(ctx, q.from, q.to);
      const rows: UsageGroupRow[] = await ctx.store.usage.report({
        fromDay: range.from,
        toDay: range.to,
        groupBy: q.groupBy,
        ...filterOf(q),
      });
      return c.json(
        {
          ...range,
          timeZone: ctx.calendar.timeZone,
          groupBy: q.groupBy,
          rows: rows.map((r) => presentTotals(r.group, r)),
          total: presentTotals('', sumTotals(rows)),
        },
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/usage/export.csv',
      tags,
      summary: 'Every retained request in the range as CSV, streamed',
      request: { query: ExportQuerySchema },
      responses: {
        200: {
          content: { 'text/csv': { schema: z.string() } },
          description: 'One line per request, oldest first',
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const range = dayRange(ctx, q.from, q.to);
      const rows = ctx.store.usage.exportRows({
        fromMs: ctx.calendar.startOf(range.from),
        toMs: ctx.calendar.startOf(addDays(range.to, 1)),
        ...filterOf(q),
      });
      return c.body(csvStream(rows), 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="usage-${range.from}-to-${range.to}.csv"`,
        'cache-control': 'no-store',
      });
    },
  );
}
