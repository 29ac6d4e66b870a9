import { Hono } from 'hono';
import type { RelayRuntime } from '../runtime.ts';
import type { AdminStore } from '../store/admin-types.ts';
import type { AppEnv } from '../types.ts';
import { DayCalendar } from '../usage/days.ts';
import { adminApi } from './api.ts';
import { consoleRoutes } from './console.ts';

/** /admin (the console) and /admin/api (its API): admin keys only, never client keys. */
export function adminRoutes(rt: RelayRuntime, store: AdminStore): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const ctx = { rt, store, calendar: new DayCalendar(rt.config.usage.timeZone) };
  app.route('/admin/api', adminApi(ctx));
  app.route('/', consoleRoutes(rt.logger));
  return app;
}
