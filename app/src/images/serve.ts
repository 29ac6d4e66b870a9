import type { Context } from 'hono';
import { ImageError } from './errors.ts';
import { IMAGE_CACHE_CONTROL, isImageKey } from './keys.ts';
import type { ImageStore } from './types.ts';

const notFound = (): ImageError => new ImageError(404, 'image_not_found', 'image not found');

/**
 * The response for `GET /images/<key>`. `key` must be the raw, undecoded path after
 * `/images/`: anything but an exact store key (so any `..`, `%2e`, `%2f`, `\`, leading `/`)
 * is a 404 before the store is touched.
 */
export async function serveImage(
  store: ImageStore,
  key: string,
  request: Pick<Request, 'method' | 'headers'>,
): Promise<Response> {
  if (!isImageKey(key)) throw notFound();
  const image = await store.get(key);
  if (!image) throw notFound();
  const headers = new Headers({
    'content-type': image.contentType,
    'content-length': String(image.size),
    'cache-control': IMAGE_CACHE_CONTROL,
    etag: image.etag,
    'last-modified': image.lastModified.toUTCString(),
    'x-content-type-options': 'nosniff',
  });
  const ifNoneMatch = request.headers.get('if-none-match');
  const notModified =
    ifNoneMatch !== null &&
    (ifNoneMatch.trim() === '*' ||
      ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === image.etag));
  if (notModified || request.method === 'HEAD') {
    await image.body.cancel().catch(() => undefined); // release the file or connection
    if (notModified) headers.delete('content-length');
    return new Response(null, { status: notModified ? 304 : 200, headers });
  }
  return new Response(image.body, { status: 200, headers });
}

/**
 * Hono handler for `app.get('/images/*', imagesHandler(store))`. Errors are thrown as
 * ImageError (404 `image_not_found`, 503 `image_store_failed`) for the app's error handler.
 */
export function imagesHandler(store: ImageStore): (c: Context) => Promise<Response> {
  return async (c) => {
    // The raw path, not c.req.path: Hono percent-decodes that, and decoding is exactly
    // what a traversal attempt counts on.
    const { pathname } = new URL(c.req.raw.url);
    if (!pathname.startsWith('/images/')) throw notFound();
    return serveImage(store, pathname.slice('/images/'.length), c.req.raw);
  };
}
