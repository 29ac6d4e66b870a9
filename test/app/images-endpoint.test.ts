import { GetObjectCommand } from '@aws-sdk/client-s3';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makePng } from '../fixtures/images/make-images.ts';
import { S3RVER_CREDENTIALS, startS3 } from '../fixtures/images/servers.ts';
import type { S3Fixture } from '../fixtures/images/servers.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-gina-0123456789abcdef';
const IMAGE = makePng(8, 8, [12, 200, 90]);

/** An upstream whose images API answers with base64 (gpt-image-1 style) or a temporary URL on another host. */
async function imagesUpstream(imageHost: FakeUpstream): Promise<FakeUpstream> {
  const upstream = await startOpenAiUpstream({ apiKey: 'up' });
  const answer = () =>
    upstream.overrides.push((req, res) => {
      const body = req.json ?? {};
      const n = typeof body.n === 'number' ? body.n : 1;
      const data = Array.from({ length: n }, (_, i) =>
        body.response_format === 'url'
          ? {
              url: `${imageHost.url.replace(/\/v1$/, '')}/tmp/img-${i}.png?sig=secret-signature`,
              revised_prompt: 'a green square',
            }
          : { b64_json: IMAGE.toString('base64'), revised_prompt: 'a green square' },
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ created: 1741676945, data }));
      return true;
    });
  for (let i = 0; i < 20; i++) answer();
  return upstream;
}

describe('POST /v1/images/generations with the official SDK', () => {
  let imageHost: FakeUpstream;
  let upstream: FakeUpstream;
  let s3: S3Fixture;
  let local: TestRelay;
  let onS3: TestRelay;

  beforeAll(async () => {
    imageHost = await startOpenAiUpstream({ apiKey: 'unused' });
    for (let i = 0; i < 20; i++) {
      imageHost.overrides.push((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(IMAGE);
        return true;
      });
    }
    upstream = await imagesUpstream(imageHost);
    s3 = await startS3();
    vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
    const config = (images: Record<string, unknown>, publicBaseUrl: string) => ({
      server: { publicBaseUrl },
      channels: [
        { name: 'img', baseUrl: upstream.url, apiKey: 'up', models: ['dall-e-3', 'gpt-image-1'] },
      ],
      keys: [{ name: 'gina', key: KEY, quota: 1 }],
      prices: { 'dall-e-3': { image: 0.04 }, 'gpt-image-1': { image: 0.02 } },
      images,
    });
    local = await startTestRelay(config({ store: 'local' }, 'http://127.0.0.1:1'));
    onS3 = await startTestRelay(config(s3.config, 'https://api.example.com'));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await local?.close();
    await onS3?.close();
    await s3?.close();
    await upstream?.close();
    await imageHost?.close();
  });

  it('returns stable URLs for base64 answers, served by the relay with the same bytes (local store)', async () => {
    const res = await local
      .client(KEY)
      .images.generate({ model: 'gpt-image-1', prompt: 'a green square', n: 2 });
    expect(res.data).toHaveLength(2);
    for (const item of res.data ?? []) {
      expect(item.url).toMatch(
        /^http:\/\/127\.0\.0\.1:1\/images\/\d{4}\/\d{2}\/\d{2}\/[\w-]+\.png$/,
      );
      expect(item.revised_prompt).toBe('a green square');
      // served by this relay under the same path
      const path = new URL(item.url!).pathname;
      const served = await fetch(`${local.baseUrl}${path}`);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await served.arrayBuffer()).equals(IMAGE)).toBe(true);
    }
    const store = local.store();
    const row = await eventually(() => {
      const r = store.listUsage({ limit: 1 })[0];
      expect(r?.endpoint).toBe('/images/generations');
      return r!;
    });
    expect(row).toMatchObject({ model: 'gpt-image-1', status: 200, costMicros: 2 * 20_000 });
    expect(row.detail).toMatchObject({ images: 2, requested: 2 });
  });

  it('answers b64_json when asked, with the upstream bytes', async () => {
    const res = await local
      .client(KEY)
      .images.generate({ model: 'dall-e-3', prompt: 'x', response_format: 'b64_json' });
    expect(Buffer.from(res.data![0]!.b64_json!, 'base64').equals(IMAGE)).toBe(true);
    expect(res.data![0]!.url).toBeUndefined();
  });

  it('downloads an upstream temporary URL into S3 and returns a URL under the public base URL', async () => {
    const res = await onS3.client(KEY).images.generate({
      model: 'dall-e-3',
      prompt: 'x',
      response_format: 'url',
      size: '1024x1024',
      quality: 'hd',
    });
    const url = res.data![0]!.url!;
    expect(url).toMatch(/^https:\/\/api\.example\.com\/images\/\d{4}\/\d{2}\/\d{2}\/[\w-]+\.png$/);
    expect(url).not.toContain('sig=');
    const key = new URL(url).pathname.slice(1);
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.config.bucket, Key: key }),
    );
    expect(object.ContentType).toBe('image/png');
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(IMAGE)).toBe(true);
    const store = onS3.store();
    await eventually(() =>
      expect(store.listUsage({ limit: 1 })[0]?.detail).toMatchObject({
        size: '1024x1024',
        quality: 'hd',
        images: 1,
      }),
    );
  });

  it('a store write failure is a 503 and never hands out a URL', async () => {
    const broken = await startTestRelay({
      server: { publicBaseUrl: 'https://api.example.com' },
      channels: [{ name: 'img', baseUrl: upstream.url, apiKey: 'up', models: ['dall-e-3'] }],
      keys: [{ name: 'gina', key: KEY }],
      images: { ...s3.config, bucket: 'no-such-bucket' },
    });
    try {
      const res = await fetch(`${broken.baseUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'dall-e-3', prompt: 'x' }),
      });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string }; data?: unknown };
      expect(body.error.code).toBe('image_store_failed');
      expect(body.data).toBeUndefined();
    } finally {
      await broken.close();
    }
  });

  it('passes /v1/images/edits through as multipart, the image bytes intact, and stores the result', async () => {
    const source = makePng(4, 4, [1, 2, 3]);
    const res = await local.client(KEY).images.edit({
      model: 'gpt-image-1',
      prompt: 'make it green',
      image: await toFile(source, 'in.png', { type: 'image/png' }),
    });
    expect(res.data![0]!.url).toMatch(/\/images\/\d{4}\/\d{2}\/\d{2}\/[\w-]+\.png$/);
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe('/v1/images/edits');
    expect(sent.fields).toMatchObject({ model: 'gpt-image-1', prompt: 'make it green' });
    expect(sent.files?.[0]).toMatchObject({
      field: 'image',
      filename: 'in.png',
      size: source.length,
    });
  });

  it('passes /v1/images/variations through as multipart and answers b64_json when asked', async () => {
    const source = makePng(3, 3, [9, 9, 9]);
    const res = await local.client(KEY).images.createVariation({
      model: 'dall-e-3',
      image: await toFile(source, 'v.png', { type: 'image/png' }),
      response_format: 'b64_json',
      n: 1,
    });
    expect(Buffer.from(res.data![0]!.b64_json!, 'base64').equals(IMAGE)).toBe(true);
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe('/v1/images/variations');
    expect(sent.fields).toMatchObject({ model: 'dall-e-3', response_format: 'b64_json', n: '1' });
    expect(sent.files?.[0]).toMatchObject({ field: 'image', size: source.length });
  });

  it('rejects a missing prompt with a 400 before calling the upstream', async () => {
    const before = upstream.requests.length;
    const res = await fetch(`${local.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-3' }),
    });
    expect(res.status).toBe(400);
    expect(upstream.requests.length).toBe(before);
  });
});
