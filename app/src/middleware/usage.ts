import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/types.ts';
import type { AppEnv } from '../types.ts';
import { RequestUsage } from '../usage/request-usage.ts';

/**
 * The row's endpoint: the path without its version; a Gemini call without its model (the row
 * has a column for that), so `/models:generateContent` counts every model's calls together.
 */
export const endpointOf = (path: string): string =>
  path.replace(/^\/v1(beta)?(?=\/)/, '').replace(/^\/models\/[^/]+:([A-Za-z]+)$/, '/models:$1');

/**
 * Gives every authenticated request its RequestUsage, and writes the row of those that ended
 * before the proxy wrote one (bad body, unknown model, no quota left, a bug). A stream still
 * running (`record.done`) writes its own when it ends.
 */
export function usage(
  store: Store,
  logger: Logger,
  now: () => number,
  leaseMs: number,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const record = c.get('record');
    const usage = new RequestUsage({
      store,
      logger,
      key: c.get('key'),
      record,
      requestId: c.get('requestId'),
      endpoint: endpointOf(c.req.path),
      now,
      leaseMs,
    });
    c.set('usage', usage);
    await next();
    if (usage.finished || record.done || c.req.method !== 'POST') return;
    await usage.finishUnanswered(c.res.status, record.errorCode ?? null);
  };
}
