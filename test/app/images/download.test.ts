import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageDownload, readAll } from '../../../app/src/images/download.ts';
import type { DownloadOptions } from '../../../app/src/images/download.ts';
import { ImageError } from '../../../app/src/images/errors.ts';
import { makeGif, makeJpeg, makePng, makeWebp } from '../../fixtures/images/make-images.ts';
import type { Loopback } from '../../fixtures/images/servers.ts';
import { startHttp } from '../../fixtures/images/servers.ts';

const LIMITS: DownloadOptions = { maxBytes: 64 * 1024, timeoutMs: 1_000 };
const png = makePng(4, 4);

let upstream: Loopback;
let closedPortUrl: string;

beforeAll(async () => {
  upstream = await startHttp((req, res) => {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;
    const hops = /^\/hops\/(\d+)$/.exec(path);
    if (path === '/a.png') {
      // Upstream lies about the type: only the bytes count.
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(png);
    } else if (path === '/a.jpg') res.end(makeJpeg());
    else if (path === '/a.webp') res.end(makeWebp());
    else if (hops) {
      const n = Number(hops[1]);
      res.writeHead(302, { location: n > 1 ? `/hops/${n - 1}` : '/a.png' }).end();
    } else if (path === '/to-ftp') res.writeHead(302, { location: 'ftp://127.0.0.1/a.png' }).end();
    else if (path === '/missing') res.writeHead(404).end('not found');
    else if (path === '/html') {
      res.writeHead(200, { 'content-type': 'image/png' }).end('<html>sign in</html>');
    } else if (path === '/gif') res.end(makeGif());
    else if (path === '/empty') res.end();
    else if (path === '/declared-huge') {
      res.writeHead(200, { 'content-length': String(LIMITS.maxBytes + 1) });
      res.end(Buffer.concat([png, Buffer.alloc(LIMITS.maxBytes + 1 - png.length)]));
    } else if (path === '/chunked-huge') {
      // No content-length: only counting the bytes can catch this one.
      res.writeHead(200);
      res.write(png);
      let sent = 0;
      const more = (): void => {
        while (sent < 4 * LIMITS.maxBytes) {
          sent += 8192;
          if (!res.write(Buffer.alloc(8192))) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    } else if (path === '/hang-headers') {
      // never answers
    } else if (path === '/hang-body') {
      res.writeHead(200);
      res.write(png.subarray(0, 20)); // a believable start, then silence
    } else res.writeHead(500).end();
  });
  const gone = await startHttp(() => undefined);
  closedPortUrl = `${gone.url}/a.png`;
  await gone.close();
});

afterAll(async () => {
  await upstream.close();
});

async function failure(path: string, options: DownloadOptions = LIMITS): Promise<ImageError> {
  const error = await openImageDownload(path.startsWith('/') ? upstream.url + path : path, options)
    .then((d) => readAll(d.body))
    .then(
      () => null,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

describe('downloading an upstream image URL', () => {
  it.each([
    ['/a.png', 'image/png', png],
    ['/a.jpg', 'image/jpeg', makeJpeg()],
    ['/a.webp', 'image/webp', makeWebp()],
  ])('types %s by its bytes and streams all of them', async (path, contentType, bytes) => {
    const download = await openImageDownload(upstream.url + path, LIMITS);
    expect(download.type.contentType).toBe(contentType);
    expect(await readAll(download.body)).toEqual(bytes);
  });

  it('follows a few redirects', async () => {
    const download = await openImageDownload(`${upstream.url}/hops/3`, LIMITS);
    expect(await readAll(download.body)).toEqual(png);
  });

  it('gives up after too many redirects', async () => {
    const error = await failure('/hops/4');
    expect(error).toMatchObject({ status: 502, code: 'upstream_image_unavailable' });
    expect(error.message).toContain('too many redirects');
  });

  it('refuses URLs and redirects that are not http or https', async () => {
    for (const url of ['file:///etc/passwd', 'data:image/png;base64,iVBORw0KGgo=', 'not a url']) {
      expect(await failure(url)).toMatchObject({ status: 502, code: 'upstream_invalid_response' });
    }
    const error = await failure('/to-ftp');
    expect(error.code).toBe('upstream_invalid_response');
    expect(error.message).toContain('ftp');
  });

  it('reports an HTTP error status', async () => {
    const error = await failure('/missing');
    expect(error).toMatchObject({ status: 502, code: 'upstream_image_unavailable' });
    expect(error.message).toContain('HTTP 404');
  });

  it('reports a server that cannot be reached', async () => {
    const error = await failure(closedPortUrl);
    expect(error).toMatchObject({ status: 502, code: 'upstream_image_unavailable' });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('rejects bytes that are not a PNG, JPEG or WebP, whatever the content-type says', async () => {
    for (const path of ['/html', '/gif', '/empty']) {
      expect(await failure(path)).toMatchObject({ status: 502, code: 'unsupported_image_type' });
    }
  });

  it('rejects an image whose declared length is over the limit', async () => {
    const error = await failure('/declared-huge');
    expect(error).toMatchObject({ status: 502, code: 'upstream_image_too_large' });
    expect(error.message).toContain(String(LIMITS.maxBytes));
  });

  it('stops reading an undeclared body as soon as it passes the limit', async () => {
    const download = await openImageDownload(`${upstream.url}/chunked-huge`, LIMITS);
    let received = 0;
    const error = await (async () => {
      for await (const chunk of download.body) received += chunk.byteLength;
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upstream_image_too_large' });
    expect(received).toBeLessThanOrEqual(LIMITS.maxBytes);
  });

  it.each(['/hang-headers', '/hang-body'])('times out on %s', async (path) => {
    const started = Date.now();
    const error = await failure(path, { ...LIMITS, timeoutMs: 300 });
    expect(error).toMatchObject({ status: 504, code: 'upstream_image_unavailable' });
    expect(error.message).toContain('300 ms');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('names only the host in errors, never the query string of a signed URL', async () => {
    const error = await failure('/missing?X-Amz-Signature=secret-token');
    expect(error.message).toContain(new URL(upstream.url).host);
    expect(error.message).not.toContain('secret-token');
  });
});
