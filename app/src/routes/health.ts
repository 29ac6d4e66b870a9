import { Hono } from 'hono';
import { keyFromHeaders } from '../middleware/auth.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';

/**
 * Liveness for anyone (load balancers, uptime checks, `curl` on the host). Which channels exist
 * and how their circuits stand is operator information, shown only to a request that carries a
 * valid key: /healthz is reachable through the CDN without one.
 */
export function healthRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const started = deps.clock.now();
  app.get('/healthz', (c) => {
    const circuits = deps.breaker.snapshot();
    const body = {
      status: circuits.some((s) => s.state !== 'closed') ? 'degraded' : 'ok',
      uptimeSeconds: Math.round((deps.clock.now() - started) / 1000),
    };
    const secret = keyFromHeaders((n) => c.req.header(n));
    const key = secret ? deps.store.findKeyBySecret(secret) : null;
    if (!key?.enabled) return c.json(body);
    return c.json({
      ...body,
      channels: deps.config.channels.filter(deps.channelState.isOn).map((ch) => ch.name),
      // Circuit states only (no upstream messages: those can quote key fragments).
      circuits,
      // Breakers are per worker: the answer describes the worker that happened to take the request.
      ...(deps.workerId !== undefined && { worker: deps.workerId }),
    });
  });
  return app;
}
