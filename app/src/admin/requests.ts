import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { parseExpiry } from '../cli/parse.ts';
import { invalidRequest } from '../errors.ts';
import type { StoredUsageRow } from '../store/types.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { usd } from './money.ts';
import {
  AuditQuerySchema,
  AuditSchema,
  RequestSchema,
  RequestsQuerySchema,
  commonErrors,
  jsonResponse,
  pageOf,
} from './schemas.ts';

const RequestPage = pageOf(RequestSchema, 'RequestPage');
const AuditPage = pageOf(AuditSchema, 'AuditPage');

function presentRequest(r: StoredUsageRow) {
  const attempts = r.detail?.attempts;
  return {
    requestId: r.requestId,
    at: new Date(r.createdAt).toISOString(),
    key: r.keyName,
    endpoint: r.endpoint,
    model: r.model,
    upstreamModel: r.upstreamModel,
    channel: r.channel,
    status: r.status,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    cacheReadTokens: r.cacheReadTokens ?? 0,
    cacheWrite5mTokens: r.cacheWrite5mTokens ?? 0,
    cacheWrite1hTokens: r.cacheWrite1hTokens ?? 0,
    reasoningTokens: r.reasoningTokens ?? 0,
    costUsd: usd(r.costMicros),
    latencyMs: r.latencyMs,
    ttfbMs: r.ttfbMs,
    source: r.source,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage ?? null,
    attempts: typeof attempts === 'number' ? attempts : null,
  };
}

export function registerRequestRoutes(api: OpenAPIHono<AdminEnv>, ctx: AdminContext) {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/requests',
      tags: ['Requests'],
      summary: 'Recent requests from the usage rows, newest first, with the error each one got',
      request: { query: RequestsQuerySchema },
      responses: {
        200: jsonResponse(
          RequestPage,
          'One page; pass next as cursor for more. Each call looks at a bounded window of rows ' +
            "(5,000 of the first filter's index), so a rare match can answer a short or empty " +
            'page with a next: follow it to search older rows.',
        ),
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const fromMs = q.from === undefined ? undefined : parseExpiry(q.from);
      const toMs = q.to === undefined ? undefined : parseExpiry(q.to);
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs)
        throw invalidRequest('"from" must not be after "to".', 'from');
      const page = await ctx.store.usage.requests({
        ...(q.requestId !== undefined && { requestId: q.requestId }),
        ...(q.key !== undefined && { key: q.key }),
        ...(q.model !== undefined && { model: q.model }),
        ...(q.channel !== undefined && { channel: q.channel }),
        ...(q.status !== undefined && { status: q.status }),
        ...(fromMs !== undefined && { fromMs }),
        ...(toMs !== undefined && { toMs }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
        limit: q.limit,
      });
      return c.json({ rows: page.rows.map(presentRequest), next: page.next }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/audit',
      tags: ['Audit'],
      summary: 'Every admin change and login, newest first',
      request: { query: AuditQuerySchema },
      responses: {
        200: jsonResponse(AuditPage, 'One page; pass next as cursor for more'),
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await ctx.store.audit.list({
        limit: q.limit,
        ...(q.action !== undefined && { action: q.action }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
      return c.json(
        {
          rows: page.rows.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
          next: page.next,
        },
        200,
      );
    },
  );
}
