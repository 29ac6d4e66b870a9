import type { MiddlewareHandler } from 'hono';
import type { HonoRequest } from 'hono';
import type { ClientDialect } from '../core/job.ts';
import type { AppEnv } from '../types.ts';

/**
 * Sets the caller's dialect from the request (its path, and for paths two dialects share, its
 * key header) before anything can fail, so that every error (a missing key included) answers
 * in the shape the caller's SDK parses.
 */
export function dialect(pick: (req: HonoRequest) => ClientDialect): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const d = pick(c.req);
    c.set('dialect', d);
    await next();
    if (d.requestIdHeader) c.res.headers.set(d.requestIdHeader, c.get('requestId'));
  };
}
