import { Hono } from 'hono';
import type { Context } from 'hono';
import { z } from 'zod';
import type { ChatRequest } from '../core/chat.ts';
import type { ProxyJob } from '../core/job.ts';
import {
  geminiDialect,
  parseCountTokens,
  parseGenerateContent,
  readChatRequest,
} from '../dialects/gemini/index.ts';
import type { GenerateContentRequest } from '../dialects/gemini/index.ts';
import { RelayError, invalidRequest } from '../errors.ts';
import { countTokens } from '../proxy/count-tokens.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimatePromptTokens } from '../usage/extract.ts';
import { readJsonText, routingFields, verbatim } from './body.ts';

type Method = 'generateContent' | 'streamGenerateContent' | 'countTokens';

/**
 * Any JSON object: the dialect's own schemas check the rest. Built once: zod compiles a schema
 * on its first parse, and a schema made per request cost a Gemini call ~60 µs of CPU.
 */
const ANY_OBJECT = z.looseObject({});

/** What the relay reads from a body (see verbatim); the model and stream are in the path. */
const ROUTING_FIELDS = routingFields([
  'generationConfig',
  'generation_config',
  'maxOutputTokens',
  'max_output_tokens',
]);
const METHODS: readonly Method[] = ['generateContent', 'streamGenerateContent', 'countTokens'];

/** `gemini-2.5-flash:generateContent` → the model and the method; a 404 for anything else. */
function call(c: Context<AppEnv>): { model: string; method: Method } {
  const path = c.req.param('call') ?? '';
  const at = path.lastIndexOf(':');
  const model = at > 0 ? path.slice(0, at) : '';
  const method = METHODS.find((m) => m === path.slice(at + 1));
  if (!model || !method)
    throw new RelayError(404, 'not_found', `Unknown endpoint: ${c.req.method} ${c.req.path}`);
  // Only SSE streams: without alt=sse Google answers one JSON array, which no relay path writes.
  if (method === 'streamGenerateContent' && c.req.query('alt') !== 'sse')
    throw invalidRequest(
      'streamGenerateContent needs ?alt=sse (the relay streams server-sent events).',
      'alt',
    );
  return { model, method };
}

function jobFor(
  method: Method,
  model: string,
  body: Record<string, unknown>,
  request: GenerateContentRequest | undefined,
  raw: string,
  rt: RelayRuntime,
  requestId: string,
): ProxyJob {
  const stream = method === 'streamGenerateContent';
  const operation = method === 'countTokens' ? 'count_tokens' : 'chat';
  let chat: ChatRequest | undefined;
  // Not yet in camelCase (see camel.ts): a snake_case limit counts too.
  const config = (request?.generationConfig ?? request?.generation_config) as
    Record<string, unknown> | undefined;
  const limit = config?.maxOutputTokens ?? config?.max_output_tokens;
  const maxOut = typeof limit === 'number' ? limit : undefined;
  return {
    dialect: geminiDialect,
    operation,
    endpoint: `/models:${method}`,
    model,
    stream,
    // Every Gemini answer carries usageMetadata.
    clientWantsUsage: true,
    estimate: {
      promptTokens: estimatePromptTokens(raw),
      completionTokens: operation === 'chat' ? (maxOut ?? rt.config.server.defaultMaxTokens) : 0,
    },
    ...(request && {
      chat: () => (chat ??= translate(request, model, stream, rt, requestId)),
    }),
    // The model lives in the path, which the gemini adapter writes: the body passes untouched.
    body: () => {
      const text = verbatim(raw, true, ROUTING_FIELDS);
      return text !== undefined ? { json: body, text } : { json: body };
    },
  };
}

/** The request in neutral form; what was left out (Google's own tools…) is logged. */
function translate(
  body: GenerateContentRequest,
  model: string,
  stream: boolean,
  rt: RelayRuntime,
  requestId: string,
): ChatRequest {
  const { chat, dropped } = readChatRequest(body, model, stream);
  if (dropped.length > 0) rt.logger.warn({ requestId, dropped }, 'translation left features out');
  return chat;
}

/** Gemini CLI, @google/genai and every client that speaks generateContent. */
export function geminiRoutes(rt: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/models/:call{.+}', async (c) => {
    const { model, method } = call(c);
    const read = await readJsonText(c, ANY_OBJECT);
    const json = read.body as Record<string, unknown>;
    const raw = read.text;
    const requestId = c.get('requestId');
    c.get('record').model = model;
    if (method === 'countTokens') {
      const body = parseCountTokens(json);
      const inner =
        body.generateContentRequest ?? (body.contents ? { contents: body.contents } : undefined);
      const job = jobFor(
        method,
        model,
        json,
        inner && parseGenerateContent(inner),
        raw,
        rt,
        requestId,
      );
      // The estimate counts the request the path names the model of; so does the upstream.
      return await countTokens(
        c,
        rt,
        job,
        () => ({ totalTokens: job.estimate.promptTokens }),
        /"totalTokens"\s*:\s*\d/,
      );
    }
    const body = parseGenerateContent(json);
    return await proxy(c, rt, jobFor(method, model, json, body, raw, rt, requestId));
  });
  return app;
}
