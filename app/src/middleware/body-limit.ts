import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as bufferingBodyLimit } from 'hono/body-limit';
import { RelayError } from '../errors.ts';
import type { AppEnv } from '../types.ts';
import { requestHeader } from '../node-bindings.ts';

/**
 * Refuses bodies over `maxBytes` with a 413. A declared Content-Length is checked up front
 * and the body is left alone, so the route reads it straight off the socket; Node's parser
 * never reads past that length. Only a chunked body of unknown size goes through Hono's
 * counting middleware, which has to buffer it into a new Request: fine for the rare upload that
 * streams, too costly for every chat request (it built a Web stream and a Request each time).
 */
export function bodyLimit(
  maxBytes: number,
): (c: Context<AppEnv>) => MiddlewareHandler<AppEnv> | undefined {
  const tooLarge = () =>
    new RelayError(413, 'request_too_large', `Request body exceeds the ${maxBytes} byte limit.`);
  const counting = bufferingBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  // Checks up front (throws), or returns the counting middleware the rest must run inside.
  return (c) => {
    const length = requestHeader(c, 'content-length');
    if (length !== undefined && requestHeader(c, 'transfer-encoding') === undefined) {
      if (Number(length) > maxBytes) throw tooLarge();
      return undefined;
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
    return counting;
  };
}
