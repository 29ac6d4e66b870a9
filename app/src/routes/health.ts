import { Hono } from 'hono';
import { keyFromHeaders } from '../middleware/auth.ts';
import type { CircuitSnapshot } from '../routing/breaker.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { requestHeader } from '../node-bindings.ts';

/** At most this many open channels and open models are named to a client key. */
export const HEALTH_LIST_LIMIT = 20;

/**
 * Liveness for anyone (load balancers, uptime checks, `curl` on the host). How the circuits
 * stand is operator information, summarised only for a request that carries a valid key:
 * /healthz is reachable through the CDN without one. A client key sees counts and the open
 * ones, bounded (clients choose model names, so the breaker may know thousands); every circuit
 * in detail is the admin API's (`GET /admin/api/channels`).
 *
 * `degraded` means a whole channel is out (its circuit tripped: open, or opened within the
 * window). A model whose own circuits are open leaves the relay `ok`, and is named under
 * `openModels`.
 */
export function healthRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const started = deps.clock.now();
  app.get('/healthz', async (c) => {
    const circuits = deps.breaker.snapshot();
    const body = {
      status: circuits.some((s) => s.model === null && s.tripped) ? 'degraded' : 'ok',
      uptimeSeconds: Math.round((deps.clock.now() - started) / 1000),
      // Public: a deploy checks through the CDN that the relay answering is the one it shipped.
      ...(deps.build !== undefined && { build: deps.build }),
    };
    const secret = keyFromHeaders((n) => requestHeader(c, n));
    const key = secret ? await deps.store.keys.findBySecret(secret) : null;
    if (!key?.enabled) return c.json(body);
    const open = openChannels(circuits);
    const models = openModels(circuits);
    return c.json({
      ...body,
      channels: {
        total: deps.config.channels.filter(deps.channelState.isOn).length,
        open: open.length,
      },
      // Circuit states only (no upstream messages: those can quote key fragments).
      openChannels: open.slice(0, HEALTH_LIST_LIMIT),
      openModels: models.slice(0, HEALTH_LIST_LIMIT),
      openModelsTotal: models.length,
      // Breakers are per worker: the answer describes the worker that happened to take the request.
      ...(deps.workerId !== undefined && { worker: deps.workerId }),
    });
  });
  return app;
}

interface OpenChannel {
  channel: string;
  cause: string | null;
  retryAt: string | null;
}

/** Channels whose whole circuit tripped, most recently opened first. */
function openChannels(circuits: readonly CircuitSnapshot[]): OpenChannel[] {
  return circuits
    .filter((s) => s.model === null && s.tripped)
    .sort((a, b) => (b.openedAt ?? 0) - (a.openedAt ?? 0))
    .map((s) => ({
      channel: s.channel,
      cause: s.cause,
      retryAt: s.retryAt === null ? null : new Date(s.retryAt).toISOString(),
    }));
}

/**
 * Models with a tripped circuit, and where; those on most channels first. A model a channel
 * does not serve is not an outage (and its name is whatever a client sent): left out.
 */
function openModels(circuits: readonly CircuitSnapshot[]): { model: string; channels: string[] }[] {
  const byModel = new Map<string, string[]>();
  for (const s of circuits) {
    if (s.model === null || !s.tripped || s.cause === 'not-served') continue;
    const list = byModel.get(s.model) ?? [];
    list.push(s.channel);
    byModel.set(s.model, list);
  }
  return [...byModel]
    .map(([model, channels]) => ({ model, channels }))
    .sort((a, b) => b.channels.length - a.channels.length || a.model.localeCompare(b.model));
}
