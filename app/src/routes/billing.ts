import { Hono } from 'hono';
import { invalidRequest } from '../errors.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';

/** What one-api answers for an unlimited key, so clients show "unlimited" rather than $0. */
const UNLIMITED_USD = 100_000_000;
const DAY_MS = 86_400_000;

function parseDate(value: string | undefined, param: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw invalidRequest(`Invalid '${param}': expected YYYY-MM-DD.`, param);
  }
  return Date.parse(`${value}T00:00:00Z`);
}

/** The legacy balance endpoints chat clients (Chatbox, NextChat, …) call to show what is left. */
export function billingRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const now = () => deps.clock.now();

  app.get('/dashboard/billing/subscription', async (c) => {
    const key = (await deps.store.keys.get(c.get('key').name)) ?? c.get('key');
    const limit = key.quotaMicros === null ? UNLIMITED_USD : key.quotaMicros / 1e6;
    return c.json({
      object: 'billing_subscription',
      has_payment_method: true,
      soft_limit_usd: limit,
      hard_limit_usd: limit,
      system_hard_limit_usd: limit,
      access_until: key.expiresAt === null ? 0 : Math.floor(key.expiresAt / 1000),
    });
  });

  app.get('/dashboard/billing/usage', async (c) => {
    const key = c.get('key');
    const from = parseDate(c.req.query('start_date'), 'start_date') ?? 0;
    // end_date is exclusive in OpenAI's API; default to "through today".
    const to = parseDate(c.req.query('end_date'), 'end_date') ?? now() + DAY_MS;
    if (to < from) throw invalidRequest("'end_date' must not be before 'start_date'.", 'end_date');
    const micros = await deps.store.usage.totalMicros(key.id, from, to);
    return c.json({ object: 'list', total_usage: micros / 10_000 });
  });
  return app;
}
