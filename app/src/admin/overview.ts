import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { UsageGroupRow } from '../store/admin-types.ts';
import { addDays, monthStart } from '../usage/days.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { usd } from './money.ts';
import { OverviewSchema, commonErrors, jsonResponse } from './schemas.ts';
import { sumTotals } from './usage.ts';

const LIVE_MINUTES = 60;
const DAILY_DAYS = 30;
const TOP = 5;

const ranked = (rows: UsageGroupRow[]) =>
  rows
    .filter((r) => r.group !== '')
    .slice(0, TOP)
    .map((r) => ({ name: r.group, requests: r.requests, costUsd: usd(r.costMicros) }));

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

export function registerOverviewRoute(api: OpenAPIHono<AdminEnv>, ctx: AdminContext) {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/overview',
      tags: ['Overview'],
      summary: 'The last hour from raw rows; today, this month and 30 days from the rollups',
      responses: { 200: jsonResponse(OverviewSchema, 'The overview'), ...commonErrors },
    }),
    async (c) => {
      const now = ctx.rt.clock.now();
      const today = ctx.calendar.dayOf(now);
      const first = addDays(today, -(DAILY_DAYS - 1));
      const usage = ctx.store.usage;
      const month = monthStart(today);
      const [live, daily, models, keys] = await Promise.all([
        usage.live({ fromMs: now + 1 - LIVE_MINUTES * 60_000, toMs: now + 1, bucketMs: 60_000 }),
        // On the 31st the month began 30 days ago: one report covers both.
        usage.report({ fromDay: first < month ? first : month, toDay: today, groupBy: 'day' }),
        usage.report({ fromDay: today, toDay: today, groupBy: 'model' }),
        usage.report({ fromDay: today, toDay: today, groupBy: 'key' }),
      ]);
      const byDay = new Map(daily.map((d) => [d.group, d]));
      const todayTotals = byDay.get(today);
      const monthTotals = sumTotals(daily.filter((d) => d.group >= month));
      return c.json(
        {
          now: new Date(now).toISOString(),
          timeZone: ctx.calendar.timeZone,
          today,
          live: {
            windowMinutes: LIVE_MINUTES,
            requests: live.requests,
            rpm: live.buckets[live.buckets.length - 1]?.requests ?? 0,
            errorRate: share(live.serverErrors, live.requests),
            clientErrorRate: share(live.errors - live.serverErrors, live.requests),
            latencyMs: live.latencyMs,
            ttftMs: live.ttfbMs,
            perMinute: live.buckets.map((b) => ({
              at: new Date(b.at).toISOString(),
              requests: b.requests,
              errors: b.errors,
            })),
          },
          spend: {
            todayUsd: usd(todayTotals?.costMicros ?? 0),
            monthUsd: usd(monthTotals.costMicros),
          },
          requests: { today: todayTotals?.requests ?? 0, month: monthTotals.requests },
          daily: Array.from({ length: DAILY_DAYS }, (_, i) => {
            const day = addDays(first, i);
            const d = byDay.get(day);
            return { day, requests: d?.requests ?? 0, costUsd: usd(d?.costMicros ?? 0) };
          }),
          topModels: ranked(models),
          topKeys: ranked(keys),
        },
        200,
      );
    },
  );
}
