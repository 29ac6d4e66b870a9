import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../types.ts';

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const started = (deps.now ?? Date.now)();
  app.get('/healthz', (c) =>
    c.json({
      status: 'ok',
      uptimeSeconds: Math.round(((deps.now ?? Date.now)() - started) / 1000),
      channels: deps.config.channels.filter((ch) => ch.enabled).length,
    }),
  );
  return app;
}
