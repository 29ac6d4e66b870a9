import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../types.ts';

/**
 * Always the relay's own id: usage rows and logs are looked up by it, so a client must not be
 * able to choose (or collide with) one.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = `req_${crypto.randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
    // Responses built outside the context (none today) still get it.
    if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', id);
  };
}
