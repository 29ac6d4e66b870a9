import { Hono } from 'hono';
import type { Context } from 'hono';
import type { ChatRequest } from '../core/chat.ts';
import type { ProxyJob } from '../core/job.ts';
import { z } from 'zod';
import {
  anthropicDialect,
  parseCountTokensRequest,
  parseMessagesRequest,
  toChatRequest,
} from '../dialects/anthropic/index.ts';
import type { CountTokensRequest, MessagesRequest } from '../dialects/anthropic/index.ts';
import { admit, countableLocally } from '../proxy/admission.ts';
import { forwardHeaders } from '../proxy/headers.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimateTokens } from '../usage/extract.ts';
import { readJson } from './body.ts';

/**
 * Anthropic headers an upstream that speaks Messages may see: the API version and the beta
 * flags the client opted into (Claude Code sends several). Never forwarded when translating.
 */
const FORWARDED = ['anthropic-version', 'anthropic-beta'];

type Body = MessagesRequest | CountTokensRequest;

function jobFor(
  operation: 'chat' | 'count_tokens',
  body: Body,
  rawText: string,
  headers: Record<string, string>,
  rt: RelayRuntime,
): ProxyJob {
  let chat: ChatRequest | undefined;
  return {
    dialect: anthropicDialect,
    operation,
    endpoint: operation === 'chat' ? '/messages' : '/messages/count_tokens',
    model: body.model,
    stream: operation === 'chat' && body.stream === true,
    // Usage is part of every Messages stream (message_start and message_delta).
    clientWantsUsage: true,
    headers,
    estimate: {
      promptTokens: estimateTokens(rawText),
      completionTokens:
        operation === 'count_tokens'
          ? 0
          : ((body as MessagesRequest).max_tokens ?? rt.config.server.defaultMaxTokens),
    },
    free: operation === 'count_tokens',
    chat: () => (chat ??= toChatRequest(body as MessagesRequest)),
    body: async (route) => ({ json: { ...body, model: route.upstreamModel } }),
  };
}

/** Claude Code, the Anthropic SDKs and every client that speaks Messages. */
export function anthropicRoutes(rt: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const read = async (c: Context<AppEnv>, parse: (json: unknown) => Body) => {
    const body = parse(await readJson(c, z.unknown()));
    const headers = forwardHeaders(FORWARDED, (n) => c.req.header(n));
    return { body, headers, raw: await c.req.text() };
  };
  app.post('/messages', async (c) => {
    const { body, headers, raw } = await read(c, parseMessagesRequest);
    return proxy(c, rt, jobFor('chat', body, raw, headers, rt));
  });
  app.post('/messages/count_tokens', async (c) => {
    const { body, headers, raw } = await read(c, parseCountTokensRequest);
    const job = jobFor('count_tokens', body, raw, headers, rt);
    // An upstream that speaks Messages counts exactly; for the others the relay estimates,
    // which is all a client uses the count for (deciding when to compact a conversation).
    if (!countableLocally(rt, c.get('key'), job)) return proxy(c, rt, job);
    admit(rt, c.get('key'), { ...job, operation: 'chat' });
    c.get('record').model = job.model;
    return c.json({ input_tokens: job.estimate.promptTokens });
  });
  return app;
}
