import { Hono } from 'hono';
import { keyFromHeaders } from '../middleware/auth.ts';
import type { CircuitSnapshot } from '../routing/breaker.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';

/**
 * Liveness for anyone (load balancers, uptime checks, `curl` on the host). Which channels exist
 * and how their circuits stand is operator information, shown only to a request that carries a
 * valid key: /healthz is reachable through the CDN without one.
 *
 * `degraded` means a whole channel is out (its circuit is open). A model whose own circuits are
 * open leaves the relay `ok`, and is named under `openModels` for keyed requests.
 */
export function healthRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const started = deps.clock.now();
  app.get('/healthz', (c) => {
    const circuits = deps.breaker.snapshot();
    const body = {
      status: circuits.some((s) => s.model === null && s.tripped) ? 'degraded' : 'ok',
      uptimeSeconds: Math.round((deps.clock.now() - started) / 1000),
      // Public: a deploy checks through the CDN that the relay answering is the one it shipped.
      ...(deps.build !== undefined && { build: deps.build }),
    };
    const secret = keyFromHeaders((n) => c.req.header(n));
    const key = secret ? deps.store.findKeyBySecret(secret) : null;
    if (!key?.enabled) return c.json(body);
    return c.json({
      ...body,
      channels: deps.config.channels.filter(deps.channelState.isOn).map((ch) => ch.name),
      openModels: openModels(circuits),
      // Circuit states only (no upstream messages: those can quote key fragments).
      circuits,
      // Breakers are per worker: the answer describes the worker that happened to take the request.
      ...(deps.workerId !== undefined && { worker: deps.workerId }),
    });
  });
  return app;
}

/** Models with a tripped circuit (open, or opened within the window), and where. */
function openModels(circuits: readonly CircuitSnapshot[]): { model: string; channels: string[] }[] {
  const byModel = new Map<string, string[]>();
  for (const s of circuits) {
    if (s.model === null || !s.tripped) continue;
    const list = byModel.get(s.model) ?? [];
    list.push(s.channel);
    byModel.set(s.model, list);
  }
  return [...byModel].map(([model, channels]) => ({ model, channels }));
}
