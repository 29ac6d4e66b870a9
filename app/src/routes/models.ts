import { Hono } from 'hono';
import type { Context } from 'hono';
import { geminiModel } from '../dialects/gemini/models.ts';
import { ModelCatalog } from '../routing/catalog.ts';
import { matchesAny } from '../routing/patterns.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { modelNotFound } from '../proxy/admission.ts';

export interface VisibleModel {
  readonly id: string;
  /** The channel that serves it. */
  readonly channel: string;
}

/**
 * The models a key may use, sorted, in any dialect's list. One catalog per relay: the OpenAI
 * and Gemini lists share its cached upstream listings.
 */
export type VisibleModels = (keyModels: readonly string[]) => Promise<VisibleModel[]>;

export function visibleModels(deps: RelayRuntime): VisibleModels {
  const catalog = new ModelCatalog({
    channels: deps.config.channels,
    upstream: deps.upstream,
    clock: deps.clock,
    logger: deps.logger,
  });
  return async (keyModels) =>
    [...(await catalog.list())]
      .filter(([id]) => matchesAny(keyModels, id))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, channel]) => ({ id, channel }));
}

/** Only what this key may use: a client's model picker should never offer a model that then fails. */
export function modelRoutes(deps: RelayRuntime, visible: VisibleModels): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const created = Math.floor(deps.clock.now() / 1000);
  const openAi = ({ id, channel }: VisibleModel) => ({
    id,
    object: 'model' as const,
    created,
    owned_by: channel,
  });

  // Gemini clients list models at the same path (and under /v1beta), in their own shape.
  const gemini = (c: Context<AppEnv>) => c.get('dialect').name === 'gemini';
  const google = ({ id, channel }: VisibleModel) => geminiModel(id, channel);

  app.get('/models', async (c) => {
    const models = await visible(c.get('key').models);
    return gemini(c)
      ? c.json({ models: models.map(google) })
      : c.json({ object: 'list', data: models.map(openAi) });
  });
  app.get('/models/:id{.+}', async (c) => {
    const id = gemini(c) ? c.req.param('id').replace(/^models\//, '') : c.req.param('id');
    const model = (await visible(c.get('key').models)).find((m) => m.id === id);
    if (!model) throw modelNotFound(id);
    return c.json(gemini(c) ? google(model) : openAi(model));
  });
  return app;
}
