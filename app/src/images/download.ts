import { ImageError } from './errors.ts';
import { SNIFF_BYTES, sniffImageType } from './sniff.ts';
import type { ImageType } from './sniff.ts';

export interface DownloadOptions {
  /** Largest image accepted, in bytes. */
  maxBytes: number;
  /** Whole download, redirects and body included. */
  timeoutMs: number;
  /** Redirects followed before giving up; default 3. */
  maxRedirects?: number;
  fetch?: typeof fetch;
  /** Cancels the download (e.g. the client went away). */
  signal?: AbortSignal;
}

export interface ImageDownload {
  type: ImageType;
  /** All of the image's bytes, the sniffed head included; throws ImageError past maxBytes. */
  body: AsyncIterable<Uint8Array>;
  /** Releases the connection when the body will not be read to the end; safe to repeat. */
  cancel: () => void;
}

const DEFAULT_MAX_REDIRECTS = 3;

/**
 * Opens an upstream image URL. Resolves once the bytes are known to be a PNG, JPEG or WebP;
 * the rest of the body streams on demand, so a large image never sits in memory whole.
 */
export async function openImageDownload(
  rawUrl: string,
  options: DownloadOptions,
): Promise<ImageDownload> {
  const doFetch = options.fetch ?? fetch;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;

  let url = parseHttpUrl(rawUrl, 'the upstream image URL');
  let response: Response | undefined;
  for (let hop = 0; ; hop++) {
    try {
      response = await doFetch(url, { redirect: 'manual', signal });
    } catch (err) {
      throw failure(err, url, options);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) break;
    await response.body?.cancel().catch(() => undefined);
    if (hop >= maxRedirects) {
      throw unavailable(`too many redirects (more than ${maxRedirects})`, url);
    }
    url = parseHttpUrl(new URL(location, url).href, 'a redirect from the upstream image URL');
  }

  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw unavailable(`HTTP ${response.status}`, url);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > options.maxBytes) {
    await response.body.cancel().catch(() => undefined);
    throw tooLarge(options.maxBytes, url);
  }

  const reader = response.body.getReader();
  const finalUrl = url;
  let received = 0;
  const read = async (): Promise<Uint8Array | null> => {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw failure(err, finalUrl, options);
    }
    if (chunk.done) return null;
    received += chunk.value.byteLength;
    if (received > options.maxBytes) throw tooLarge(options.maxBytes, finalUrl);
    return chunk.value;
  };
  const release = (): void => {
    reader.cancel().catch(() => undefined);
  };

  // Read just enough to sniff before anything is stored.
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    while (headBytes < SNIFF_BYTES) {
      const chunk = await read();
      if (!chunk) break;
      head.push(chunk);
      headBytes += chunk.byteLength;
    }
  } catch (err) {
    release();
    throw err;
  }
  const type = sniffImageType(Buffer.concat(head));
  if (!type) {
    release();
    throw new ImageError(
      502,
      'unsupported_image_type',
      headBytes === 0
        ? 'the upstream image is empty'
        : 'the upstream image is not a PNG, JPEG or WebP image',
    );
  }

  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      yield* head;
      for (;;) {
        const chunk = await read();
        if (!chunk) return;
        yield chunk;
      }
    } finally {
      release();
    }
  }
  return { type, body: body(), cancel: release };
}

/** Collects a download whose size is already bounded by openImageDownload. */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseHttpUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ImageError(502, 'upstream_invalid_response', `${what} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImageError(
      502,
      'upstream_invalid_response',
      `${what} must be http or https, not ${url.protocol.slice(0, -1)}`,
    );
  }
  return url;
}

// Upstream image URLs are often pre-signed: errors name the host only, never the query.
const where = (url: URL): string => url.host;

const unavailable = (why: string, url: URL): ImageError =>
  new ImageError(
    502,
    'upstream_image_unavailable',
    `could not download the upstream image from ${where(url)}: ${why}`,
  );

const tooLarge = (maxBytes: number, url: URL): ImageError =>
  new ImageError(
    502,
    'upstream_image_too_large',
    `the upstream image from ${where(url)} is larger than ${maxBytes} bytes`,
  );

function failure(err: unknown, url: URL, options: DownloadOptions): ImageError {
  if (err instanceof ImageError) return err;
  const name = (err as Error | null)?.name;
  if (name === 'TimeoutError') {
    return new ImageError(
      504,
      'upstream_image_unavailable',
      `downloading the upstream image from ${where(url)} took longer than ${options.timeoutMs} ms`,
      { cause: err },
    );
  }
  if (name === 'AbortError') {
    return new ImageError(502, 'upstream_image_unavailable', 'the image download was cancelled', {
      cause: err,
    });
  }
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  const why = typeof code === 'string' ? code : 'network error';
  return new ImageError(
    502,
    'upstream_image_unavailable',
    `could not download the upstream image from ${where(url)}: ${why}`,
    { cause: err },
  );
}
