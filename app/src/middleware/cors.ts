import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../types.ts';
import { requestHeader } from '../node-bindings.ts';

export interface CorsOptions {
  /** Allowed origins; `*` allows any. */
  readonly origins: readonly string[];
  readonly allowMethods: readonly string[];
  /** Response headers a browser script may read. */
  readonly exposeHeaders: readonly string[];
  /** Seconds a browser may cache a preflight's answer. */
  readonly maxAge: number;
}

/**
 * CORS: Hono's `cors()` answers preflights (OPTIONS); every other answer a browser may read gets
 * its headers here, set on the response after the handler made it. Hono's middleware sets them
 * on `c.res` before the handler runs, and a response that already exists then makes Hono
 * rebuild the handler's own as a Web `Response` whose body is a stream (the body copied through
 * a ReadableStream and the headers merged): about a tenth of the relay's CPU per request on the
 * chat path.
 */
export function corsHeaders(options: CorsOptions): MiddlewareHandler<AppEnv> {
  const { preflight, stamp } = corsParts(options);
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    await next();
    const headers: Record<string, string> = {};
    stamp(c, headers);
    for (const [name, value] of Object.entries(headers)) {
      if (name === 'vary') c.res.headers.append(name, value);
      else c.res.headers.set(name, value);
    }
  };
}

/** The two halves of `corsHeaders`, for the edge middleware to run without a layer of its own. */
export function corsParts(options: CorsOptions): {
  readonly preflight: MiddlewareHandler<AppEnv>;
  /** Writes the answer's CORS headers into `headers`, from the request alone. */
  readonly stamp: (c: Context<AppEnv>, headers: Record<string, string>) => void;
} {
  const anyOrigin = options.origins.includes('*');
  const preflight = cors({
    origin: anyOrigin ? '*' : [...options.origins],
    allowMethods: [...options.allowMethods],
    // Empty = echo whatever the preflight asks for (x-stainless-*, and the next SDK's headers).
    allowHeaders: [],
    exposeHeaders: [...options.exposeHeaders],
    maxAge: options.maxAge,
  });
  const expose = options.exposeHeaders.join(',');
  const stamp = (c: Context<AppEnv>, headers: Record<string, string>) => {
    // A client that checks CORS sends Origin with every request but a GET or a HEAD (Fetch;
    // "null" when it hides where it is), so one without it (an SDK, a coding agent, a desktop
    // app with web security off) reads no CORS header: ~300 bytes less on its answers. A GET's
    // answer keeps them, whoever asked: a cache between may hand one answer to both.
    const origin = requestHeader(c, 'origin');
    const method = c.req.method;
    if (!origin && method !== 'GET' && method !== 'HEAD') return;
    const allowOrigin = anyOrigin ? '*' : options.origins.find((o) => o === origin);
    if (allowOrigin) headers['access-control-allow-origin'] = allowOrigin;
    if (expose) headers['access-control-expose-headers'] = expose;
    if (!anyOrigin) headers.vary = 'Origin';
  };
  return { preflight, stamp };
}
