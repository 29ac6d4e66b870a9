import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createImageStore } from '../../../app/src/images/create-store.ts';
import type { DownloadOptions } from '../../../app/src/images/download.ts';
import { ImageError } from '../../../app/src/images/errors.ts';
import { materializeImages } from '../../../app/src/images/materialize.ts';
import type { MaterializeOptions } from '../../../app/src/images/materialize.ts';
import type { ImageEntry, ImageStore } from '../../../app/src/images/types.ts';
import { imageApp } from '../../fixtures/images/image-app.ts';
import {
  makeGif,
  makeJpeg,
  makeLargePng,
  makePng,
  makeWebp,
} from '../../fixtures/images/make-images.ts';
import type { Loopback, S3Fixture } from '../../fixtures/images/servers.ts';
import {
  S3RVER_CREDENTIALS,
  startHono,
  startHttp,
  startS3,
} from '../../fixtures/images/servers.ts';

const DOWNLOAD: DownloadOptions = { maxBytes: 256 * 1024, timeoutMs: 2_000 };
const URL_PATTERN =
  /^http:\/\/127\.0\.0\.1:\d+\/images\/\d{4}\/\d{2}\/\d{2}\/[\w-]{22}\.(png|jpg|webp)$/;

const png = makePng(8, 8, [0, 128, 255]);
const jpeg = makeJpeg(64);
const webp = makeWebp(64);

let files: Loopback; // an image CDN, as upstreams hand out
let upstream: Loopback; // an OpenAI-style images API
let relay: Loopback; // serves GET /images/* from the local store
let s3: S3Fixture;
let dataDir: string;
let localStore: ImageStore;

/** What the upstream API answers for a given "prompt". */
const answers: Record<string, unknown> = {};

beforeAll(async () => {
  files = await startHttp((req, res) => {
    const path = new URL(req.url ?? '/', 'http://files').pathname;
    const body = {
      '/a.png': png,
      '/b.jpg': jpeg,
      '/c.webp': webp,
      '/not-an-image': Buffer.from('<html>expired</html>'),
      '/huge.png': makeLargePng(DOWNLOAD.maxBytes * 3),
    }[path];
    if (body) res.end(body);
    else if (path === '/huge-chunked.png') {
      // No content-length: only counting the streamed bytes can stop this one.
      const big = makeLargePng(DOWNLOAD.maxBytes * 3);
      for (let i = 0; i < big.length; i += 16 * 1024) res.write(big.subarray(i, i + 16 * 1024));
      res.end();
    } else res.writeHead(404).end();
  });
  upstream = await startHttp((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { prompt } = JSON.parse(Buffer.concat(chunks).toString()) as { prompt: string };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(answers[prompt]));
    });
  });
  relay = await startHono(imageApp(() => localStore));
  s3 = await startS3();
});

afterAll(async () => {
  await Promise.all([files.close(), upstream.close(), relay.close(), s3.close()]);
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'relay-materialize-'));
  localStore = createImageStore({ store: 'local' }, { dataDir, publicBaseUrl: relay.url });
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dataDir, { recursive: true, force: true });
});

/** Calls the loopback upstream the way the relay route will. */
async function generate(prompt: string, answer: unknown): Promise<unknown> {
  answers[prompt] = answer;
  const res = await fetch(`${upstream.url}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'dall-e-3', prompt }),
  });
  return res.json();
}

function options(overrides: Partial<MaterializeOptions> = {}): MaterializeOptions {
  return {
    store: localStore,
    responseFormat: 'url',
    archive: false,
    download: DOWNLOAD,
    ...overrides,
  };
}

async function fetchBytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function listAll(store: ImageStore): Promise<ImageEntry[]> {
  const out: ImageEntry[] = [];
  for await (const entry of store.list()) out.push(entry);
  return out;
}

const b64 = (bytes: Buffer): string => bytes.toString('base64');

describe('materializeImages with the local store', () => {
  it('stores b64_json images and answers stable URLs that serve the same bytes', async () => {
    const body = await generate('three', {
      created: 1_731_000_000,
      data: [
        { b64_json: b64(png), revised_prompt: 'a blue square' },
        { b64_json: b64(jpeg) },
        { b64_json: b64(webp) },
      ],
      usage: { total_tokens: 42 },
    });
    const out = await materializeImages(body, options());

    expect(out.created).toBe(1_731_000_000);
    expect(out.usage).toEqual({ total_tokens: 42 });
    expect(out.data.map((d) => Object.keys(d).sort())).toEqual([
      ['revised_prompt', 'url'],
      ['url'],
      ['url'],
    ]);
    expect(out.data[0]?.revised_prompt).toBe('a blue square');
    const urls = out.data.map((d) => d.url as string);
    for (const url of urls) expect(url).toMatch(URL_PATTERN);
    expect(urls.map((u) => u.slice(u.lastIndexOf('.')))).toEqual(['.png', '.jpg', '.webp']);
    expect(await fetchBytes(urls[0]!)).toEqual(png);
    expect(await fetchBytes(urls[1]!)).toEqual(jpeg);
    expect(await fetchBytes(urls[2]!)).toEqual(webp);
  });

  it('downloads upstream URLs and answers its own', async () => {
    const body = await generate('cdn', { created: 1, data: [{ url: `${files.url}/b.jpg` }] });
    const out = await materializeImages(body, options());
    const url = out.data[0]?.url as string;
    expect(url.startsWith(`${relay.url}/images/`)).toBe(true);
    expect(url).not.toContain(files.url);
    expect(await fetchBytes(url)).toEqual(jpeg);
  });

  it('answers b64_json as asked, storing nothing unless archiving', async () => {
    const body = await generate('b64', { created: 1, data: [{ b64_json: b64(png) }] });
    const out = await materializeImages(body, options({ responseFormat: 'b64_json' }));
    expect(out.data).toEqual([{ b64_json: b64(png) }]);
    expect(await listAll(localStore)).toEqual([]);
  });

  it('archives b64_json answers when configured', async () => {
    const body = await generate('archive', { created: 1, data: [{ b64_json: b64(webp) }] });
    const out = await materializeImages(
      body,
      options({ responseFormat: 'b64_json', archive: true }),
    );
    expect(out.data).toEqual([{ b64_json: b64(webp) }]);
    const stored = await listAll(localStore);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.key).toMatch(/\.webp$/);
    expect(await fetchBytes(localStore.urlFor(stored[0]!.key))).toEqual(webp);
  });

  it('turns an upstream URL into b64_json when the client asked for it', async () => {
    const body = await generate('url-to-b64', {
      created: 1,
      data: [{ url: `${files.url}/a.png` }],
    });
    const out = await materializeImages(body, options({ responseFormat: 'b64_json' }));
    expect(out.data).toEqual([{ b64_json: b64(png) }]);
  });

  it('refuses upstream bytes that are not PNG, JPEG or WebP, storing nothing', async () => {
    for (const data of [[{ b64_json: b64(makeGif()) }], [{ url: `${files.url}/not-an-image` }]]) {
      const body = await generate('bad-type', { created: 1, data });
      await expect(materializeImages(body, options())).rejects.toMatchObject({
        status: 502,
        code: 'unsupported_image_type',
      });
    }
    expect(await listAll(localStore)).toEqual([]);
  });

  it('refuses oversize images, from b64_json and from URLs', async () => {
    const big = makeLargePng(DOWNLOAD.maxBytes + 1);
    for (const data of [
      [{ b64_json: b64(big) }],
      [{ url: `${files.url}/huge.png` }],
      [{ url: `${files.url}/huge-chunked.png` }],
    ]) {
      const body = await generate('big', { created: 1, data });
      await expect(materializeImages(body, options())).rejects.toMatchObject({
        status: 502,
        code: 'upstream_image_too_large',
      });
    }
    expect(await listAll(localStore)).toEqual([]);
  });

  it('deletes the images it already stored when a later one fails', async () => {
    const body = await generate('half', {
      created: 1,
      data: [{ b64_json: b64(png) }, { url: `${files.url}/gone.png` }],
    });
    await expect(materializeImages(body, options())).rejects.toMatchObject({
      code: 'upstream_image_unavailable',
    });
    expect(await listAll(localStore)).toEqual([]);
  });

  it('throws image_store_failed, and no URL, when the store cannot write', async () => {
    await writeFile(join(dataDir, 'images'), 'not a folder');
    const body = await generate('no-store', { created: 1, data: [{ b64_json: b64(png) }] });
    const error = await materializeImages(body, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect(error).toMatchObject({ status: 503, code: 'image_store_failed' });
  });

  it.each([
    ['no data array', { created: 1 }],
    ['not an object', 'Internal Server Error'],
    ['an item with neither b64_json nor url', { created: 1, data: [{ revised_prompt: 'x' }] }],
    ['b64_json that is not base64', { created: 1, data: [{ b64_json: 'iVBOR w0K!!' }] }],
  ])('reports an upstream body with %s as upstream_invalid_response', async (_what, body) => {
    await expect(materializeImages(body, options())).rejects.toMatchObject({
      status: 502,
      code: 'upstream_invalid_response',
    });
  });
});

describe('materializeImages with the s3 store (S3-compatible endpoint)', () => {
  const s3Store = (): ImageStore =>
    createImageStore(s3.config, { dataDir, publicBaseUrl: 'https://cdn.example.com' });

  async function objectBytes(key: string): Promise<Buffer> {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.config.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  it('streams a downloaded image into the bucket under the URL it answers', async () => {
    const body = await generate('s3-url', { created: 7, data: [{ url: `${files.url}/c.webp` }] });
    const out = await materializeImages(body, options({ store: s3Store() }));
    const url = out.data[0]?.url as string;
    expect(url).toMatch(
      /^https:\/\/cdn\.example\.com\/images\/\d{4}\/\d{2}\/\d{2}\/[\w-]{22}\.webp$/,
    );
    // CloudFront maps /images/* straight onto the bucket: the URL path is the object key.
    expect(await objectBytes(new URL(url).pathname.slice(1))).toEqual(webp);
  });

  it('stores b64_json images in the bucket', async () => {
    const body = await generate('s3-b64', { created: 7, data: [{ b64_json: b64(png) }] });
    const out = await materializeImages(body, options({ store: s3Store() }));
    expect(await objectBytes(new URL(out.data[0]?.url as string).pathname.slice(1))).toEqual(png);
  });

  it('leaves no object behind when a streamed download runs over the limit', async () => {
    const store = createImageStore(
      { ...s3.config, prefix: 'oversize/' },
      { dataDir, publicBaseUrl: 'https://cdn.example.com' },
    );
    const body = await generate('s3-huge', {
      created: 7,
      data: [{ url: `${files.url}/huge-chunked.png` }],
    });
    await expect(materializeImages(body, options({ store }))).rejects.toMatchObject({
      code: 'upstream_image_too_large',
    });
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.config.bucket, Prefix: 'oversize/' }),
    );
    expect(listed.Contents ?? []).toEqual([]);
  });
});
