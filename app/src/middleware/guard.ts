import type { Context, MiddlewareHandler, Next } from 'hono';
import type { AppEnv } from '../types.ts';
import { answerError } from './answer-error.ts';
import type { ErrorHandler } from './answer-error.ts';
import type { bodyLimit } from './body-limit.ts';
import type { authenticate } from './auth.ts';
import type { rateLimit } from './rate-limit.ts';
import type { usage } from './usage.ts';

export interface GuardOptions {
  readonly bodyLimit: ReturnType<typeof bodyLimit>;
  readonly authenticate: ReturnType<typeof authenticate>;
  readonly usage: ReturnType<typeof usage>;
  readonly rateLimit: ReturnType<typeof rateLimit>;
  /** The app's own error handler, for a request the rate limit refuses. */
  readonly onError: ErrorHandler;
}

/**
 * Every API path, whatever its dialect, in one middleware (each Hono middleware is an async
 * closure and a promise of its own): the body limit, the key, the usage row's RequestUsage,
 * then the key's rate limit; the row is written here for requests that ended without one (a
 * refused one included: it is answered here, as Hono would answer a middleware's error).
 */
export function guard(options: GuardOptions): MiddlewareHandler<AppEnv> {
  const { bodyLimit, authenticate, usage, rateLimit, onError } = options;
  const guarded = async (c: Context<AppEnv>, next: Next): Promise<void> => {
    const looking = authenticate(c);
    if (looking) await looking;
    const u = usage.begin(c);
    const limited = rateLimit(c);
    let admitted = true;
    if (limited) {
      try {
        await limited;
      } catch (err) {
        admitted = false;
        await answerError(c, err, onError);
      }
    }
    if (admitted) await next();
    // The row of a request refused on the way (most wrote theirs already) goes behind its
    // answer, in flight as the proxy's do: waiting for its commit here held the answer back.
    void usage.end(c, u);
  };
  return (c, next) => {
    // A chunked body is counted by a middleware the rest runs inside; a declared length is not.
    const counting = bodyLimit(c);
    return counting ? counting(c, () => guarded(c, next)) : guarded(c, next);
  };
}
