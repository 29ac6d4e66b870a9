import { Hono } from 'hono';
import { listModelIds } from '../routing/channels.ts';
import { matchesAny } from '../routing/patterns.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { modelNotFound } from '../proxy/forward.ts';

/** Only what this key may use: a client's model picker should never offer a model that then fails. */
export function modelRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const created = Math.floor(deps.clock.now() / 1000);
  const visible = (keyModels: readonly string[]) =>
    [...listModelIds(deps.config.channels)]
      .filter(([id]) => matchesAny(keyModels, id))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, channel]) => ({ id, object: 'model' as const, created, owned_by: channel }));

  app.get('/models', (c) => c.json({ object: 'list', data: visible(c.get('key').models) }));
  app.get('/models/:id{.+}', (c) => {
    const id = c.req.param('id');
    const model = visible(c.get('key').models).find((m) => m.id === id);
    if (!model) throw modelNotFound(id);
    return c.json(model);
  });
  return app;
}
