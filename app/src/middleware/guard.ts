import type { Context, MiddlewareHandler, Next } from 'hono';
import type { AppEnv } from '../types.ts';
import type { bodyLimit } from './body-limit.ts';
import type { authenticate } from './auth.ts';
import type { usage } from './usage.ts';

export interface GuardOptions {
  readonly bodyLimit: ReturnType<typeof bodyLimit>;
  readonly authenticate: ReturnType<typeof authenticate>;
  readonly usage: ReturnType<typeof usage>;
}

/**
 * Every API path, whatever its dialect, in one middleware (each Hono middleware is an async
 * closure and a promise of its own): the body limit, the key, then the usage row's
 * RequestUsage, whose row is written here for requests that ended without one.
 */
export function guard(options: GuardOptions): MiddlewareHandler<AppEnv> {
  const { bodyLimit, authenticate, usage } = options;
  const guarded = async (c: Context<AppEnv>, next: Next): Promise<void> => {
    await authenticate(c);
    const u = usage.begin(c);
    await next();
    await usage.end(c, u);
  };
  return (c, next) => {
    // A chunked body is counted by a middleware the rest runs inside; a declared length is not.
    const counting = bodyLimit(c);
    return counting ? counting(c, () => guarded(c, next)) : guarded(c, next);
  };
}
