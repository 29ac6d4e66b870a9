import type { Context } from 'hono';
import type { AppEnv } from '../types.ts';

/** The app's own error handler (app.onError). */
export type ErrorHandler = (err: Error, c: Context<AppEnv>) => Response | Promise<Response>;

/**
 * What Hono's compose does with a middleware's error, for the checks the relay's middlewares
 * run themselves: the app's handler answers it (a non-Error is rethrown, as compose does).
 */
export async function answerError(
  c: Context<AppEnv>,
  err: unknown,
  onError: ErrorHandler,
): Promise<void> {
  if (!(err instanceof Error)) throw err;
  c.error = err;
  c.res = await onError(err, c);
}
