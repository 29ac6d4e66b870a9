import { Hono } from 'hono';
import type { Endpoint } from '../providers/types.ts';
import type { ProxyJob } from '../proxy/forward.ts';
import { proxy } from '../proxy/forward.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimateTokens } from '../usage/extract.ts';
import { readJson } from './body.ts';
import { chatSchema, completionSchema, embeddingSchema, responsesSchema } from './schemas.ts';
import type { z } from 'zod';

type Body = Record<string, unknown> & {
  model: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  max_output_tokens?: number | null;
  n?: number | null;
  best_of?: number | null;
};

/** Endpoints whose streams only carry usage when asked with stream_options. */
const USAGE_ON_REQUEST: readonly Endpoint[] = ['/chat/completions', '/completions'];

function jobFor(endpoint: Endpoint, body: Body, rawText: string, deps: RelayRuntime): ProxyJob {
  const stream = body.stream === true;
  const clientWantsUsage = body.stream_options?.include_usage === true;
  // Providers differ in which limit they honour, so hold for the largest one, once per choice.
  const limits = [body.max_completion_tokens, body.max_tokens, body.max_output_tokens].filter(
    (v): v is number => typeof v === 'number',
  );
  const choices = Math.max(
    1,
    ...[body.n, body.best_of].filter((v): v is number => typeof v === 'number' && v > 0),
  );
  const maxOut = limits.length > 0 ? Math.max(...limits) * choices : undefined;
  return {
    endpoint,
    model: body.model,
    stream,
    clientWantsUsage,
    estimate: {
      promptTokens: estimateTokens(rawText),
      completionTokens:
        endpoint === '/embeddings' ? 0 : (maxOut ?? deps.config.server.defaultMaxTokens * choices),
    },
    body: async (route) => {
      const json: Record<string, unknown> = { ...body, model: route.upstreamModel };
      // Billing needs the usage chunk; the client only sees it if it asked (see relayStream).
      if (stream && USAGE_ON_REQUEST.includes(endpoint)) {
        json.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
      }
      return { json };
    },
  };
}

function jsonEndpoint(
  app: Hono<AppEnv>,
  deps: RelayRuntime,
  endpoint: Endpoint,
  schema: z.ZodType,
) {
  app.post(endpoint, async (c) => {
    const body = (await readJson(c, schema)) as Body;
    // The text as received (Hono keeps it): estimating from it spares re-serialising a long
    // conversation just to count its bytes.
    return proxy(c, deps, jobFor(endpoint, body, await c.req.text(), deps));
  });
}

export function openAiRoutes(deps: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  jsonEndpoint(app, deps, '/chat/completions', chatSchema);
  jsonEndpoint(app, deps, '/completions', completionSchema);
  jsonEndpoint(app, deps, '/embeddings', embeddingSchema);
  jsonEndpoint(app, deps, '/responses', responsesSchema);
  return app;
}
