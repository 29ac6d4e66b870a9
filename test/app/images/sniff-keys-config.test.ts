import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imagesConfigSchema } from '../../../app/src/images/config.ts';
import { parseAge } from '../../../app/src/images/duration.ts';
import { imageUrl, isImageKey, newImageKey } from '../../../app/src/images/keys.ts';
import { JPEG, PNG, WEBP, sniffImageType } from '../../../app/src/images/sniff.ts';
import { makeGif, makeJpeg, makePng, makeWebp } from '../../fixtures/images/make-images.ts';

describe('sniffImageType', () => {
  it('recognises PNG, JPEG and WebP by their bytes', () => {
    expect(sniffImageType(makePng())).toEqual(PNG);
    expect(sniffImageType(makeJpeg())).toEqual(JPEG);
    expect(sniffImageType(makeWebp())).toEqual(WEBP);
  });

  it('rejects other types, text, truncated headers and nothing at all', () => {
    expect(sniffImageType(makeGif())).toBeNull();
    expect(sniffImageType(Buffer.from('<html>not an image</html>'))).toBeNull();
    expect(sniffImageType(makePng().subarray(0, 7))).toBeNull();
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WAVE'))).toBeNull();
    expect(sniffImageType(new Uint8Array())).toBeNull();
  });
});

describe('image keys', () => {
  it('are yyyy/mm/dd (UTC) / 22 random base64url characters . sniffed extension', () => {
    const key = newImageKey(WEBP, new Date('2026-01-02T23:59:59-05:00'));
    expect(key).toMatch(/^2026\/01\/03\/[A-Za-z0-9_-]{22}\.webp$/);
    expect(isImageKey(key)).toBe(true);
  });

  it('never repeat', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => newImageKey(PNG)));
    expect(keys.size).toBe(1000);
  });

  it('reject traversal, encoding, absolute paths and foreign names', () => {
    const good = newImageKey(PNG, new Date('2026-11-22T00:00:00Z'));
    const id = good.slice(11, 33);
    for (const bad of [
      `../${good}`,
      `/${good}`,
      `2026/11/22/../${id}.png`,
      `2026/11/22/${id}.png/..`,
      `2026/11/22/${id}%2e.png`,
      `2026%2f11/22/${id}.png`,
      `2026\\11\\22\\${id}.png`,
      `2026/11/22/${id}.gif`,
      `2026/11/22/${id}.PNG`,
      `2026/13/22/${id}.png`,
      `2026/11/22/${id}.png\n`,
      `2026/11/22/${id.slice(1)}.png`,
      `images/${good}`,
      '',
    ]) {
      expect(isImageKey(bad), bad).toBe(false);
    }
  });

  it('accept nothing with a dot segment, a percent sign, a backslash or a control character', () => {
    const good = newImageKey(PNG);
    fc.assert(
      fc.property(fc.nat(good.length), fc.string({ unit: 'binary' }), (at, inserted) => {
        const key = good.slice(0, at) + inserted + good.slice(at);
        if (isImageKey(key)) {
          expect(key).not.toMatch(/(^|\/)\.\.?(\/|$)|%|\\/);
          expect([...key].some((ch) => ch.charCodeAt(0) < 0x20)).toBe(false);
          expect(key.startsWith('/')).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
    expect(isImageKey(good)).toBe(true);
  });

  it('make URLs under the public base URL, with or without a trailing slash', () => {
    expect(imageUrl('https://api.example.com/', '2026/11/22/x.png')).toBe(
      'https://api.example.com/images/2026/11/22/x.png',
    );
    expect(imageUrl('https://api.example.com', '2026/11/22/x.png')).toBe(
      'https://api.example.com/images/2026/11/22/x.png',
    );
  });
});

describe('imagesConfigSchema', () => {
  it('defaults to the local store', () => {
    const defaults = {
      archive: true,
      maxImageBytes: 50 * 1024 * 1024,
      downloadTimeoutMs: 60_000,
      allowPrivateImageUrls: false,
    };
    expect(imagesConfigSchema.parse(undefined)).toEqual({ store: 'local', ...defaults });
    expect(imagesConfigSchema.parse({ store: 'local' })).toEqual({ store: 'local', ...defaults });
    expect(imagesConfigSchema.parse({ store: 'local', archive: false })).toMatchObject({
      archive: false,
    });
  });

  it('accepts an S3-compatible store and defaults the prefix to images/', () => {
    expect(
      imagesConfigSchema.parse({
        store: 's3',
        bucket: 'relay-images',
        region: 'auto',
        endpoint: 'https://acct.r2.cloudflarestorage.com',
        forcePathStyle: true,
      }),
    ).toEqual({
      store: 's3',
      archive: true,
      maxImageBytes: 50 * 1024 * 1024,
      downloadTimeoutMs: 60_000,
      allowPrivateImageUrls: false,
      bucket: 'relay-images',
      region: 'auto',
      prefix: 'images/',
      endpoint: 'https://acct.r2.cloudflarestorage.com',
      forcePathStyle: true,
    });
    expect(
      imagesConfigSchema.parse({ store: 's3', bucket: 'b-1', region: 'x', prefix: '' }),
    ).toMatchObject({ prefix: '' });
  });

  it.each([
    [{ store: 'gcs' }, 'store'],
    [{ store: 's3', region: 'us-east-1' }, 'bucket'],
    [{ store: 's3', bucket: 'Bad_Bucket', region: 'us-east-1' }, 'bucket'],
    [{ store: 's3', bucket: 'b-1', region: 'us-east-1', prefix: 'images' }, 'prefix'],
    [{ store: 's3', bucket: 'b-1', region: 'us-east-1', prefix: '/images/' }, 'prefix'],
    [{ store: 's3', bucket: 'b-1', region: 'us-east-1', prefix: '../images/' }, 'prefix'],
    [{ store: 's3', bucket: 'b-1', region: 'us-east-1', endpoint: 'ftp://x' }, 'endpoint'],
    [{ store: 'local', dir: '/tmp' }, 'dir'],
  ])('rejects %j, naming %s', (input, field) => {
    const result = imagesConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(field);
  });
});

describe('parseAge', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseAge('30d')).toBe(30 * 86_400_000);
    expect(parseAge('12h')).toBe(12 * 3_600_000);
    expect(parseAge('2w')).toBe(14 * 86_400_000);
    expect(parseAge('90m')).toBe(90 * 60_000);
    expect(parseAge('5s')).toBe(5_000);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '30', 'd', '0d', '-1d', '1.5d', '30 days', '1y', '9999999d']) {
      expect(parseAge(bad), bad).toBeNull();
    }
  });
});
