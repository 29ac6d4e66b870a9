import { Hono } from 'hono';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';

export function healthRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const started = deps.clock.now();
  app.get('/healthz', (c) =>
    c.json({
      status: deps.breaker.snapshot().some((s) => s.state !== 'closed') ? 'degraded' : 'ok',
      uptimeSeconds: Math.round((deps.clock.now() - started) / 1000),
      channels: deps.config.channels.filter((ch) => ch.enabled).map((ch) => ch.name),
      // Circuit states only (no upstream messages: those can quote key fragments).
      circuits: deps.breaker.snapshot(),
    }),
  );
  return app;
}
