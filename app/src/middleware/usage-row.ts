import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/types.ts';
import type { AppEnv } from '../types.ts';

/**
 * Every authenticated request leaves a usage row, including the ones refused before any
 * upstream call (bad body, unknown model, no quota left): the proxy writes its own row, this
 * writes one for everything that never got that far.
 */
export function usageRow(
  store: Store,
  logger: Logger,
  now: () => number,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const record = c.get('record');
    const key = c.get('key');
    if (record.usageWritten || record.done || !key || c.req.method !== 'POST') return;
    record.usageWritten = true;
    try {
      store.recordUsage({
        requestId: c.get('requestId'),
        keyId: key.id,
        keyName: key.name,
        endpoint: c.req.path.replace(/^\/v1/, ''),
        model: record.model ?? null,
        upstreamModel: null,
        channel: null,
        status: c.res.status,
        promptTokens: 0,
        completionTokens: 0,
        costMicros: 0,
        latencyMs: now() - record.startedAt,
        ttfbMs: null,
        source: 'none',
        errorCode: record.errorCode ?? null,
        errorMessage: record.errorMessage ?? null,
      });
    } catch (err) {
      logger.error({ err, requestId: c.get('requestId') }, 'failed to write usage row');
    }
  };
}
