import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createImageStore } from '../../../app/src/images/create-store.ts';
import { ImageError } from '../../../app/src/images/errors.ts';
import { newImageKey } from '../../../app/src/images/keys.ts';
import { JPEG, PNG } from '../../../app/src/images/sniff.ts';
import type { ImageStore } from '../../../app/src/images/types.ts';
import { makeJpeg, makeLargePng, makePng } from '../../fixtures/images/make-images.ts';
import type { S3Fixture } from '../../fixtures/images/servers.ts';
import { S3RVER_CREDENTIALS, startS3 } from '../../fixtures/images/servers.ts';

const BASE = 'https://relay.example.com';

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(stream).arrayBuffer());
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function* failingAfter(first: Uint8Array, error: Error): AsyncGenerator<Uint8Array> {
  yield first;
  throw error;
}

let s3: S3Fixture;
let dataDir: string;

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3.close();
});
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'relay-images-'));
  // The S3 store takes credentials from the default AWS chain, here the environment.
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dataDir, { recursive: true, force: true });
});

const stores: Array<[string, () => ImageStore]> = [
  ['local', () => createImageStore({ store: 'local' }, { dataDir, publicBaseUrl: BASE })],
  // A fresh prefix per test keeps the shared bucket's tests apart.
  [
    's3',
    () =>
      createImageStore(
        { ...s3.config, prefix: `images/${Math.random().toString(36).slice(2)}/` },
        { dataDir, publicBaseUrl: BASE },
      ),
  ],
];

describe.each(stores)('the %s image store', (_kind, makeStore) => {
  it('gives back exactly the bytes it was given, typed by the key extension', async () => {
    const store = makeStore();
    const png = makePng(3, 3);
    const key = newImageKey(PNG);
    await store.put(key, png, PNG.contentType);

    const image = await store.get(key);
    expect(image).not.toBeNull();
    expect(image?.contentType).toBe('image/png');
    expect(image?.size).toBe(png.length);
    expect(image?.etag).toMatch(/^"[^"]+"$/);
    expect(await bytesOf(image!.body)).toEqual(png);
    expect(store.urlFor(key)).toBe(`${BASE}/images/${key}`);
  });

  it('streams a multi-part upload of a large image', async () => {
    const store = makeStore();
    const big = makeLargePng(11 * 1024 * 1024 + 7); // more than two 5 MiB parts
    const key = newImageKey(PNG);
    await store.put(key, chunksOf(big, 256 * 1024), PNG.contentType);

    const image = await store.get(key);
    expect(image?.size).toBe(big.length);
    expect((await bytesOf(image!.body)).equals(big)).toBe(true);
  });

  it('leaves nothing behind when the body fails, and rethrows the body error', async () => {
    const store = makeStore();
    const key = newImageKey(PNG);
    const boom = new ImageError(502, 'upstream_image_too_large', 'too large');
    await expect(store.put(key, failingAfter(makePng(), boom), PNG.contentType)).rejects.toBe(boom);
    expect(await store.get(key)).toBeNull();
    expect(await collect(store.list())).toEqual([]);
  });

  it('leaves nothing behind when the body fails after several parts', async () => {
    const store = makeStore();
    const key = newImageKey(PNG);
    const boom = new ImageError(502, 'upstream_image_too_large', 'too large');
    const body = failingAfter(makeLargePng(6 * 1024 * 1024), boom);
    await expect(store.put(key, body, PNG.contentType)).rejects.toBe(boom);
    expect(await store.get(key)).toBeNull();
  });

  it('answers null for missing and malformed keys', async () => {
    const store = makeStore();
    expect(await store.get(newImageKey(PNG))).toBeNull();
    expect(await store.get('../../etc/passwd')).toBeNull();
    expect(await store.get('2026/11/22/x.png')).toBeNull();
  });

  it('refuses to write under a key it did not make', async () => {
    const store = makeStore();
    await expect(store.put('../evil.png', makePng(), PNG.contentType)).rejects.toThrow(
      /not an image key/,
    );
  });

  it('lists images in key order and filters by age', async () => {
    const store = makeStore();
    const keys = [
      newImageKey(PNG, new Date('2025-01-02T00:00:00Z')),
      newImageKey(JPEG, new Date('2026-03-04T00:00:00Z')),
    ];
    await store.put(keys[1]!, makeJpeg(), JPEG.contentType);
    await store.put(keys[0]!, makePng(), PNG.contentType);

    const listed = await collect(store.list());
    expect(listed.map((e) => e.key)).toEqual(keys);
    expect(listed.map((e) => e.size)).toEqual([makePng().length, makeJpeg().length]);
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 60_000);
    expect(await collect(store.list({ olderThan: past }))).toEqual([]);
    expect((await collect(store.list({ olderThan: future }))).length).toBe(2);
  });

  it('deletes what it is asked to, counts missing keys as gone, refuses foreign keys', async () => {
    const store = makeStore();
    const keep = newImageKey(PNG);
    const drop = newImageKey(PNG);
    await store.put(keep, makePng(), PNG.contentType);
    await store.put(drop, makePng(), PNG.contentType);

    const result = await store.delete([drop, newImageKey(PNG), 'not/a/key']);
    expect(result.deleted).toBe(2);
    expect(result.failed).toEqual([{ key: 'not/a/key', message: 'not an image key' }]);
    expect(await store.get(drop)).toBeNull();
    expect((await collect(store.list())).map((e) => e.key)).toEqual([keep]);
  });
});

describe('the local image store', () => {
  const store = (): ImageStore =>
    createImageStore({ store: 'local' }, { dataDir, publicBaseUrl: BASE });

  it('keeps images in <dataDir>/images/yyyy/mm/dd', async () => {
    const key = newImageKey(PNG, new Date('2026-11-22T10:00:00Z'));
    await store().put(key, makePng(), PNG.contentType);
    expect(await readdir(join(dataDir, 'images', '2026', '11', '22'))).toEqual([key.slice(11)]);
  });

  it('removes its temporary file when a write fails', async () => {
    const key = newImageKey(PNG, new Date('2026-11-22T10:00:00Z'));
    const boom = new Error('body failed');
    await expect(store().put(key, failingAfter(makePng(), boom), PNG.contentType)).rejects.toBe(
      boom,
    );
    expect(await readdir(join(dataDir, 'images', '2026', '11', '22'))).toEqual([]);
  });

  it('reports an unwritable folder as image_store_failed', async () => {
    await writeFile(join(dataDir, 'images'), 'a file where the folder should be');
    const error = await store()
      .put(newImageKey(PNG), makePng(), PNG.contentType)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect(error).toMatchObject({ status: 503, code: 'image_store_failed' });
  });

  it('does not follow a symlink planted under an image key', async () => {
    const key = newImageKey(PNG, new Date('2026-11-22T10:00:00Z'));
    await mkdir(join(dataDir, 'images', '2026', '11', '22'), { recursive: true });
    await writeFile(join(dataDir, 'secret.txt'), 'secret');
    await symlink(join(dataDir, 'secret.txt'), join(dataDir, 'images', key));
    expect(await store().get(key)).toBeNull();
    expect(await collect(store().list())).toEqual([]);
  });

  it('lists by modification time and removes day folders that pruning emptied', async () => {
    const old = newImageKey(PNG, new Date('2026-01-01T00:00:00Z'));
    const recent = newImageKey(PNG, new Date('2026-11-01T00:00:00Z'));
    await store().put(old, makePng(), PNG.contentType);
    await store().put(recent, makePng(), PNG.contentType);
    const longAgo = new Date('2026-01-01T00:00:00Z');
    await utimes(join(dataDir, 'images', old), longAgo, longAgo);

    const stale = await collect(store().list({ olderThan: new Date('2026-06-01T00:00:00Z') }));
    expect(stale.map((e) => e.key)).toEqual([old]);
    expect(stale[0]?.lastModified.toISOString()).toBe('2026-01-01T00:00:00.000Z');

    await store().delete([old]);
    expect(await readdir(join(dataDir, 'images', '2026'))).toEqual(['11']);
  });
});

describe('the s3 image store', () => {
  const makeStore = (): ImageStore => createImageStore(s3.config, { dataDir, publicBaseUrl: BASE });

  it('writes under the prefix with the sniffed content type and immutable caching', async () => {
    const key = newImageKey(JPEG);
    await makeStore().put(key, makeJpeg(), JPEG.contentType);
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.config.bucket, Key: `images/${key}` }),
    );
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.CacheControl).toBe('public, max-age=31536000, immutable');
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.config.bucket, Key: `images/${key}` }),
    );
    expect(Buffer.from(await object.Body!.transformToByteArray())).toEqual(makeJpeg());
    await makeStore().delete([key]);
  });

  it('lists only its own keys, not other objects in the bucket', async () => {
    const config = { ...s3.config, prefix: 'shared/' };
    const store = createImageStore(config, { dataDir, publicBaseUrl: BASE });
    const key = newImageKey(PNG);
    await store.put(key, makePng(), PNG.contentType);
    for (const foreign of ['shared/readme.txt', 'shared/2026/11/22/short.png', 'other/x.png']) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: config.bucket, Key: foreign, Body: 'x' }),
      );
    }
    expect((await collect(store.list())).map((e) => e.key)).toEqual([key]);
  });

  it('reports a missing bucket as image_store_failed', async () => {
    const store = createImageStore(
      { ...s3.config, bucket: 'no-such-bucket' },
      { dataDir, publicBaseUrl: BASE },
    );
    await expect(store.put(newImageKey(PNG), makePng(), PNG.contentType)).rejects.toMatchObject({
      status: 503,
      code: 'image_store_failed',
    });
  });
});
