import type { Context } from 'hono';
import { RelayError } from '../errors.ts';

/**
 * The request target as the client sent it. The Node adapter keeps it on `env.incoming.url`;
 * the Request's own URL has already had its dot segments resolved by the URL parser.
 */
function rawPath(c: Context): string {
  const incoming = (c.env as { incoming?: { url?: unknown } } | undefined)?.incoming;
  let target = typeof incoming?.url === 'string' ? incoming.url : c.req.url;
  // Absolute form ("http://host/path") and the Request's URL: drop the scheme and host.
  const scheme = target.indexOf('://');
  if (!target.startsWith('/') && scheme !== -1) {
    const slash = target.indexOf('/', scheme + 3);
    target = slash === -1 ? '/' : target.slice(slash);
  }
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

const decodeAll = (path: string): string => {
  // Twice-encoded names (%2561) count too: some hop on the way may decode once more.
  for (let i = 0; i < 3 && path.includes('%'); i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      return path;
    }
  }
  return path;
};

/** What any lenient hop (a proxy, the URL parser, a router) could make of the path. */
export function loosePath(raw: string): string {
  const segments: string[] = [];
  for (const s of decodeAll(raw).replace(/\\/g, '/').toLowerCase().split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  return `/${segments.join('/')}`;
}

const isAdmin = (path: string) => path === '/admin' || path.startsWith('/admin/');

const SUSPECT = /[%\\]|\/\/|\/\.|^\/admin/i;

/**
 * The CDN lets only `/admin` and `/admin/*` through its admin behavior (no caching, the
 * adminCidrs check), and compares paths literally. A path that only becomes /admin once decoded,
 * dot-resolved, slash-collapsed or lower-cased came in through another behavior, so it is
 * refused here before any routing, whatever credentials it carries (a check that throws; the
 * edge middleware runs it).
 */
export function checkCanonicalAdminPath(c: Context): void {
  const raw = rawPath(c);
  // Every API request passes here: one test clears the plain paths (no escapes, dots, doubled
  // slashes or backslashes, and no "admin" at the start in any case) before any decoding.
  if (!SUSPECT.test(raw) || isAdmin(raw)) return;
  if (isAdmin(loosePath(raw))) {
    throw new RelayError(
      400,
      'non_canonical_path',
      'The admin console and API answer only at /admin, spelled plainly: no encoded, dotted, doubled or upper-case path segments.',
    );
  }
}
