import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageStore } from '../../../app/src/images/create-store.ts';
import { newImageKey } from '../../../app/src/images/keys.ts';
import { JPEG, PNG, WEBP } from '../../../app/src/images/sniff.ts';
import type { ImageStore } from '../../../app/src/images/types.ts';
import { imageApp } from '../../fixtures/images/image-app.ts';
import { makeJpeg, makePng, makeWebp } from '../../fixtures/images/make-images.ts';
import type { Loopback } from '../../fixtures/images/servers.ts';
import { startHono } from '../../fixtures/images/servers.ts';

let dataDir: string;
let store: ImageStore;
let server: Loopback;
const png = makePng(5, 5);
const pngKey = newImageKey(PNG, new Date('2026-11-22T00:00:00Z'));

/** A request with the path exactly as written: fetch() would normalise `..` away. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    })
      .on('error', reject)
      .end();
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'relay-serve-'));
  server = await startHono(imageApp(() => store));
  store = createImageStore({ store: 'local' }, { dataDir, publicBaseUrl: server.url });
  await store.put(pngKey, png, PNG.contentType);
  // What a traversal would be after.
  await writeFile(join(dataDir, 'relay.db'), 'SECRET-DATABASE');
  await writeFile(join(dataDir, 'images', '2026', 'secret.png'), 'SECRET-IN-IMAGES');
});

afterAll(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('GET /images/*', () => {
  it('serves the stored bytes with their type and long-lived caching', async () => {
    const res = await fetch(store.urlFor(pngKey));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(png.length));
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(res.headers.get('last-modified')).toMatch(/GMT$/);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(png);
  });

  it.each([
    [JPEG, makeJpeg()],
    [WEBP, makeWebp()],
  ])('serves $contentType', async (type, bytes) => {
    const key = newImageKey(type);
    await store.put(key, bytes, type.contentType);
    const res = await fetch(store.urlFor(key));
    expect(res.headers.get('content-type')).toBe(type.contentType);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const first = await fetch(store.urlFor(pngKey));
    await first.arrayBuffer();
    const etag = first.headers.get('etag') ?? '';
    const res = await fetch(store.urlFor(pngKey), { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe('');
    const other = await fetch(store.urlFor(pngKey), { headers: { 'if-none-match': '"x"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it('answers HEAD with the headers only', async () => {
    const res = await fetch(store.urlFor(pngKey), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(await res.text()).toBe('');
  });

  it('answers 404 image_not_found for an image that is not there', async () => {
    const res = await fetch(store.urlFor(newImageKey(PNG)));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'image_not_found' } });
  });

  it.each([
    '/images/../relay.db',
    '/images/../../../../etc/passwd',
    '/images/%2e%2e/relay.db',
    '/images/%2E%2E%2Frelay.db',
    '/images/..%2frelay.db',
    '/images/2026/secret.png',
    '/images/2026/11/22/..%2f..%2fsecret.png',
    '/images//etc/passwd',
    '/images/%2fetc%2fpasswd',
    '/images/..\\relay.db',
    '/images/%5c..%5crelay.db',
    `/images/${encodeURIComponent(pngKey)}`,
    `/images/${pngKey}%00`,
    `/images/${pngKey}/..`,
  ])('refuses %s with a 404 that leaks nothing', async (path) => {
    const res = await rawGet(path);
    // Node's HTTP parser already answers 400 to some of these; none may reach a file.
    expect([400, 404]).toContain(res.status);
    expect(res.body).not.toContain('SECRET');
    expect(res.body).not.toContain('root:');
  });
});
