import { Hono } from 'hono';
import type { Context } from 'hono';
import type { ChatRequest } from '../core/chat.ts';
import type { ProxyJob } from '../core/job.ts';
import { z } from 'zod';
import {
  anthropicDialect,
  parseCountTokensRequest,
  parseMessagesRequest,
  readChatRequest,
} from '../dialects/anthropic/index.ts';
import type { CountTokensRequest, MessagesRequest } from '../dialects/anthropic/index.ts';
import { countTokens } from '../proxy/count-tokens.ts';
import { forwardHeaders } from '../proxy/headers.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimatePromptTokens } from '../usage/extract.ts';
import { readJsonText, routingFields, verbatim } from './body.ts';
import { requestHeader } from '../node-bindings.ts';

/**
 * Anthropic headers an upstream that speaks Messages may see: the API version and the beta
 * flags the client opted into (Claude Code sends several). Never forwarded when translating.
 */
const FORWARDED = ['anthropic-version', 'anthropic-beta'];

/** What the relay reads from a body (see verbatim). */
const ROUTING_FIELDS = routingFields(['model', 'max_tokens', 'stream']);

/** Any JSON value; the dialect's parsers check it. One schema for every request, not one each. */
const ANY_JSON = z.unknown();

type Body = MessagesRequest | CountTokensRequest;

function jobFor(
  operation: 'chat' | 'count_tokens',
  body: Body,
  rawText: string,
  headers: Record<string, string>,
  rt: RelayRuntime,
  requestId: string,
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
      promptTokens: estimatePromptTokens(rawText),
      completionTokens:
        operation === 'count_tokens'
          ? 0
          : ((body as MessagesRequest).max_tokens ?? rt.config.server.defaultMaxTokens),
    },
    chat: () => (chat ??= translate(body as MessagesRequest, rt, requestId)),
    body: (route) => {
      const text = verbatim(rawText, body.model === route.upstreamModel, ROUTING_FIELDS);
      return text !== undefined
        ? { json: body, text }
        : { json: { ...body, model: route.upstreamModel } };
    },
  };
}

/**
 * The request in neutral form. What only Anthropic can do (server tools such as web search, file
 * ids) is left out rather than refused, so an agent that mixes them with its own tools still
 * works on other channels; what was left out is logged for the operator.
 */
function translate(body: MessagesRequest, rt: RelayRuntime, requestId: string): ChatRequest {
  const { chat, dropped } = readChatRequest(body);
  if (dropped.length > 0) rt.logger.warn({ requestId, dropped }, 'translation left features out');
  return chat;
}

/** Claude Code, the Anthropic SDKs and every client that speaks Messages. */
export function anthropicRoutes(rt: RelayRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const read = async (c: Context<AppEnv>, parse: (json: unknown) => Body) => {
    const { body, text } = await readJsonText(c, ANY_JSON);
    const headers = forwardHeaders(FORWARDED, (n) => requestHeader(c, n));
    return { body: parse(body), headers, raw: text };
  };
  app.post('/messages', async (c) => {
    const { body, headers, raw } = await read(c, parseMessagesRequest);
    return await proxy(c, rt, jobFor('chat', body, raw, headers, rt, c.get('requestId')));
  });
  app.post('/messages/count_tokens', async (c) => {
    const { body, headers, raw } = await read(c, parseCountTokensRequest);
    const job = jobFor('count_tokens', body, raw, headers, rt, c.get('requestId'));
    return await countTokens(c, rt, job, () => ({ input_tokens: job.estimate.promptTokens }));
  });
  return app;
}
