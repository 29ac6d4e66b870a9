import { Hono } from 'hono';
import { ModelCatalog } from '../routing/catalog.ts';
import { matchesAny } from '../routing/patterns.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { modelNotFound } from '../proxy/admission.ts';

/** Only what this key may use: a client's model picker should never offer a model that then fails. */
export function modelRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const created = Math.floor(deps.clock.now() / 1000);
  const catalog = new ModelCatalog({
    channels: deps.config.channels,
    upstream: deps.upstream,
    clock: deps.clock,
    logger: deps.logger,
  });
  const visible = async (keyModels: readonly string[]) =>
    [...(await catalog.list())]
      .filter(([id]) => matchesAny(keyModels, id))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, channel]) => ({ id, object: 'model' as const, created, owned_by: channel }));

  app.get('/models', async (c) =>
    c.json({ object: 'list', data: await visible(c.get('key').models) }),
  );
  app.get('/models/:id{.+}', async (c) => {
    const id = c.req.param('id');
    const model = (await visible(c.get('key').models)).find((m) => m.id === id);
    if (!model) throw modelNotFound(id);
    return c.json(model);
  });
  return app;
}
