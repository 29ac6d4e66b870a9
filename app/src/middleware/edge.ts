import type { Context, HonoRequest, MiddlewareHandler } from 'hono';
import type { ClientDialect } from '../core/job.ts';
import type { AppEnv } from '../types.ts';
import type { AccessLog } from './access-log.ts';
import { checkCanonicalAdminPath } from './admin-path.ts';
import { answerError } from './answer-error.ts';
import type { ErrorHandler } from './answer-error.ts';
import type { corsParts } from './cors.ts';
import { newRequestId } from './request-id.ts';
import { openReplyHeaders, stampReplyHeaders } from './reply-headers.ts';
import type { PlainHeaders } from './reply-headers.ts';

export interface EdgeOptions {
  /** The caller's dialect from the request (its path, and for shared paths its key header). */
  readonly dialectOf: (req: HonoRequest) => ClientDialect;
  readonly accessLog: AccessLog;
  readonly cors: ReturnType<typeof corsParts>;
  /** Refuses requests that came around the CDN (origin-secret.ts); none without a secret. */
  readonly originCheck: ((c: Context<AppEnv>) => void) | undefined;
  /** The app's own error handler (app.onError), for the checks above, which throw. */
  readonly onError: ErrorHandler;
}

/**
 * Everything every request goes through before routing, in one middleware: each Hono
 * middleware is an async closure, a promise and a dispatch step of its own, and these six ran
 * on every request. In order: the relay's request id; the caller's dialect, set before anything
 * can fail so that every error answers in the shape the caller's SDK parses; the record and its
 * access line; CORS (a preflight is answered here); the origin secret; the admin path check.
 * Their headers go on whatever answer comes back, an error's included.
 */
export function edge(options: EdgeOptions): MiddlewareHandler<AppEnv> {
  const { dialectOf, accessLog, cors, originCheck, onError } = options;
  return async (c, next) => {
    const id = newRequestId();
    c.set('requestId', id);
    const dialect = dialectOf(c.req);
    c.set('dialect', dialect);
    const end = accessLog.begin(c);
    try {
      const preflight = c.req.method === 'OPTIONS';
      // The relay's headers, in one plain object the answer takes whole (see reply-headers.ts).
      const headers: PlainHeaders = { 'x-request-id': id };
      if (dialect.requestIdHeader) headers[dialect.requestIdHeader] = id;
      if (!preflight) cors.stamp(c, headers);
      openReplyHeaders(c, headers);
      try {
        if (preflight) {
          const res = await cors.preflight(c, next);
          if (res) c.res = res;
        } else {
          originCheck?.(c);
          checkCanonicalAdminPath(c);
          await next();
        }
      } catch (err) {
        await answerError(c, err, onError);
      }
      stampReplyHeaders(c);
    } finally {
      end();
    }
  };
}
