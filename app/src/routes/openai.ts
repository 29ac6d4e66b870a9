import { Hono } from 'hono';
import type { z } from 'zod';
import type { ChatRequest } from '../core/chat.ts';
import type { Operation, ProxyJob } from '../core/job.ts';
import { openAiChatToNeutral } from '../dialects/openai/chat-request.ts';
import { openAiDialect } from '../dialects/openai/index.ts';
import { forwardHeaders } from '../proxy/headers.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimatePromptTokens } from '../usage/extract.ts';
import { readJsonText, routingFields, verbatim, withMembers } from './body.ts';
import { chatSchema, completionSchema, embeddingSchema, responsesSchema } from './schemas.ts';
import { requestHeader } from '../node-bindings.ts';

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

/** OpenAI headers an OpenAI-compatible upstream may see. */
const FORWARDED = ['openai-beta'];

/** What the relay reads from a body (see verbatim). */
const ROUTING_FIELDS = routingFields([
  'model',
  'stream',
  'stream_options',
  'include_usage',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'n',
  'best_of',
]);

/** Endpoints whose streams only carry usage when asked with stream_options. */
const USAGE_ON_REQUEST: readonly string[] = ['/chat/completions', '/completions'];
const ASK_FOR_USAGE = '"stream_options":{"include_usage":true}';

function jobFor(
  endpoint: '/chat/completions' | '/completions' | '/embeddings' | '/responses',
  body: Body,
  rawText: string,
  deps: RelayRuntime,
  headers: Record<string, string>,
): ProxyJob {
  const stream = body.stream === true;
  // Providers differ in which limit they honour, so hold for the largest one, once per choice.
  const limits = [body.max_completion_tokens, body.max_tokens, body.max_output_tokens].filter(
    (v): v is number => typeof v === 'number',
  );
  const choices = Math.max(
    1,
    ...[body.n, body.best_of].filter((v): v is number => typeof v === 'number' && v > 0),
  );
  const maxOut = limits.length > 0 ? Math.max(...limits) * choices : undefined;
  const operation: Operation = endpoint === '/chat/completions' ? 'chat' : endpoint;
  let chat: ChatRequest | undefined;
  return {
    dialect: openAiDialect,
    operation,
    endpoint,
    model: body.model,
    stream,
    clientWantsUsage: body.stream_options?.include_usage === true,
    headers,
    estimate: {
      promptTokens: estimatePromptTokens(rawText),
      completionTokens:
        endpoint === '/embeddings' ? 0 : (maxOut ?? deps.config.server.defaultMaxTokens * choices),
    },
    ...(operation === 'chat' && { chat: () => (chat ??= openAiChatToNeutral(body)) }),
    body: (route) => {
      // Billing needs the usage chunk; the client only sees it if it asked (see the decoder).
      const addUsage =
        stream &&
        USAGE_ON_REQUEST.includes(endpoint) &&
        body.stream_options?.include_usage !== true;
      const json: Record<string, unknown> =
        addUsage || body.model !== route.upstreamModel
          ? { ...body, model: route.upstreamModel }
          : body;
      if (addUsage) json.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
      // A client that sent no stream_options (most do not) gets the ask in front of its own
      // bytes; one whose stream_options said otherwise gets the body written anew.
      const text = verbatim(
        rawText,
        body.model === route.upstreamModel && (!addUsage || body.stream_options === undefined),
        ROUTING_FIELDS,
      );
      if (text === undefined) return { json };
      return { json, text: addUsage ? withMembers(text, ASK_FOR_USAGE) : text };
    },
  };
}

function jsonEndpoint(
  app: Hono<AppEnv>,
  deps: RelayRuntime,
  endpoint: '/chat/completions' | '/completions' | '/embeddings' | '/responses',
  schema: z.ZodType,
) {
  app.post(endpoint, async (c) => {
    // The text as received: estimating from it spares re-serialising a long conversation just
    // to count its bytes.
    const { body, text } = await readJsonText(c, schema);
    const headers = forwardHeaders(FORWARDED, (n) => requestHeader(c, n));
    return await proxy(c, deps, jobFor(endpoint, body as Body, text, deps, headers));
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
