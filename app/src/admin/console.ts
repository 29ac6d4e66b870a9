import { gzipSync } from 'node:zlib';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { RelayError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AppEnv } from '../types.ts';

interface Served {
  readonly type: string;
  readonly body: string;
  readonly gzip: Uint8Array;
}

/** Everything comes from the relay itself: no CDN, no inline script, no framing. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const served = (type: string, body: string): Served => ({ type, body, gzip: gzipSync(body) });

/**
 * GET /admin (and /admin/) is the console's page; /admin/assets/* its script and stylesheet,
 * named by content hash so browsers may keep them forever. They hold no data: every number
 * comes from the authenticated API.
 */
export function consoleRoutes(logger: Logger): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let loading: Promise<Map<string, Served>> | undefined;
  const assets = () =>
    // Imported on the first /admin page: in the shipped bundle this module holds the whole built
    // console, which a relay whose console is never opened need not read or keep.
    (loading ??= import('./console-assets.ts')
      .then(({ loadConsoleAssets }) => loadConsoleAssets())
      .then((bundle) => {
        const map = new Map(bundle.files.map((f) => [f.path, served(f.type, f.body)]));
        map.set('/admin', served('text/html; charset=utf-8', bundle.html));
        return map;
      })
      .catch((err: unknown) => {
        loading = undefined;
        logger.error({ err }, 'admin console could not be built');
        throw new RelayError(
          503,
          'console_unavailable',
          'The admin console is not built: run the relay from its bundle (npm run build) or install dev dependencies.',
        );
      }));

  const send = (c: Context<AppEnv>, file: Served, headers: Record<string, string>) => {
    const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
    return c.body(gzip ? new Uint8Array(file.gzip) : file.body, 200, {
      'content-type': file.type,
      vary: 'accept-encoding',
      ...(gzip && { 'content-encoding': 'gzip' }),
      ...headers,
    });
  };
  const page = async (c: Context<AppEnv>) =>
    send(c, (await assets()).get('/admin')!, { ...PAGE_HEADERS, 'cache-control': 'no-cache' });

  app.get('/admin', page);
  app.get('/admin/', page);
  app.get('/admin/assets/:file', async (c) => {
    const file = (await assets()).get(c.req.path);
    if (!file) throw new RelayError(404, 'not_found', `Unknown console file: ${c.req.path}`);
    return send(c, file, {
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });
  return app;
}
