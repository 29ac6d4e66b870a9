import type { MiddlewareHandler } from 'hono';
import type { ClientDialect } from '../core/job.ts';
import type { AppEnv } from '../types.ts';

/**
 * Sets the caller's dialect from the path before anything can fail, so that every error
 * (a missing key included) answers in the shape the caller's SDK parses.
 */
export function dialect(
  byPrefix: readonly (readonly [prefix: string, dialect: ClientDialect])[],
  fallback: ClientDialect,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const path = c.req.path;
    const d = byPrefix.find(([prefix]) => path.startsWith(prefix))?.[1] ?? fallback;
    c.set('dialect', d);
    await next();
    if (d.requestIdHeader) c.res.headers.set(d.requestIdHeader, c.get('requestId'));
  };
}
