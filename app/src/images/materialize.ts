import { z } from 'zod';
import { openImageDownload, readAll } from './download.ts';
import type { DownloadOptions } from './download.ts';
import { ImageError } from './errors.ts';
import { newImageKey } from './keys.ts';
import { sniffImageType } from './sniff.ts';
import type { ImageType } from './sniff.ts';
import type { ImageBody, ImageStore } from './types.ts';

export interface MaterializeOptions {
  store: ImageStore;
  /** What the client asked for (`response_format`, default `url`). */
  responseFormat: 'url' | 'b64_json';
  /** Also keep b64_json answers in the store (url answers are always stored). */
  archive: boolean;
  /** Limits for upstream image URLs; maxBytes also bounds decoded b64_json images. */
  download: DownloadOptions;
  now?: () => Date;
}

// Only the fields we rewrite are checked; everything else (created, usage, revised_prompt,
// output_format, ...) passes through untouched.
const upstreamSchema = z.looseObject({
  data: z.array(
    z.looseObject({
      b64_json: z.string().nullish(),
      url: z.string().nullish(),
    }),
  ),
});

export type ImagesResponseBody = Record<string, unknown> & {
  data: Array<Record<string, unknown>>;
};

/**
 * Turns an upstream images response into the client's: every image is checked to be a PNG,
 * JPEG or WebP by its bytes, stored under a fresh key when the client wants a URL (or when
 * archiving), and returned as the stable URL or as base64. All or nothing: on any failure the
 * images already stored for this response are deleted and an ImageError is thrown.
 */
export async function materializeImages(
  upstreamBody: unknown,
  options: MaterializeOptions,
): Promise<ImagesResponseBody> {
  const parsed = upstreamSchema.safeParse(upstreamBody);
  if (!parsed.success) {
    throw new ImageError(
      502,
      'upstream_invalid_response',
      'the upstream images response has no data array of images',
    );
  }
  const stored: string[] = [];
  const data: Array<Record<string, unknown>> = [];
  try {
    // One image at a time keeps memory at one image, however many the upstream returned.
    for (const item of parsed.data.data) {
      const { b64_json, url, ...rest } = item;
      const image =
        typeof b64_json === 'string' && b64_json !== ''
          ? await fromBase64(b64_json, options, stored)
          : typeof url === 'string' && url !== ''
            ? await fromUrl(url, options, stored)
            : invalid('an upstream image has neither b64_json nor url');
      data.push({ ...rest, ...image });
    }
  } catch (err) {
    await options.store.delete(stored).catch(() => undefined);
    throw err;
  }
  return { ...parsed.data, data };
}

type ClientImage = { url: string } | { b64_json: string };

async function fromBase64(
  b64: string,
  options: MaterializeOptions,
  stored: string[],
): Promise<ClientImage> {
  const { maxBytes } = options.download;
  // Check the size before decoding: 4 base64 characters carry 3 bytes.
  if (Math.floor((b64.length * 3) / 4) - 2 > maxBytes) {
    throw new ImageError(
      502,
      'upstream_image_too_large',
      `the upstream image is larger than ${maxBytes} bytes`,
    );
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) {
    invalid('an upstream image has b64_json that is not base64');
  }
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.byteLength > maxBytes) {
    throw new ImageError(
      502,
      'upstream_image_too_large',
      `the upstream image is larger than ${maxBytes} bytes`,
    );
  }
  const type = sniffOrThrow(bytes);
  if (options.responseFormat === 'b64_json') {
    if (options.archive) await store(options, type, bytes, stored);
    return { b64_json: b64 };
  }
  return { url: await store(options, type, bytes, stored) };
}

async function fromUrl(
  url: string,
  options: MaterializeOptions,
  stored: string[],
): Promise<ClientImage> {
  const download = await openImageDownload(url, options.download);
  try {
    if (options.responseFormat === 'url') {
      return { url: await store(options, download.type, download.body, stored) };
    }
    const bytes = await readAll(download.body);
    if (options.archive) await store(options, download.type, bytes, stored);
    return { b64_json: bytes.toString('base64') };
  } finally {
    download.cancel(); // a no-op once the body was read to the end
  }
}

async function store(
  options: MaterializeOptions,
  type: ImageType,
  body: ImageBody,
  stored: string[],
): Promise<string> {
  const key = newImageKey(type, options.now?.() ?? new Date());
  try {
    await options.store.put(key, body, type.contentType);
  } catch (err) {
    // Stores throw the body's own error (e.g. a download past its limit) or an ImageError.
    throw err instanceof ImageError
      ? err
      : new ImageError(503, 'image_store_failed', 'could not store the image', { cause: err });
  }
  stored.push(key);
  return options.store.urlFor(key);
}

function sniffOrThrow(bytes: Uint8Array): ImageType {
  const type = sniffImageType(bytes);
  if (!type) {
    throw new ImageError(
      502,
      'unsupported_image_type',
      'the upstream image is not a PNG, JPEG or WebP image',
    );
  }
  return type;
}

function invalid(message: string): never {
  throw new ImageError(502, 'upstream_invalid_response', message);
}
