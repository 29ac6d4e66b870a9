import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageDownload, readAll } from './download.ts';
import { makePng } from '../../../test/fixtures/images/make-images.ts';
import { startHttp } from '../../../test/fixtures/images/servers.ts';
import type { Loopback } from '../../../test/fixtures/images/servers.ts';
import { forbiddenAddress, guardedFetch } from './url-guard.ts';

describe('forbiddenAddress', () => {
  it('never allows link-local, metadata or reserved addresses', () => {
    for (const ip of [
      '169.254.169.254',
      'fd00:ec2::254',
      'fe80::1',
      '0.0.0.0',
      '::',
      '::ffff:169.254.169.254',
    ])
      expect(forbiddenAddress(ip, true), ip).toBeDefined();
  });

  it('allows loopback and private addresses only when told to', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '::1',
      'fd12::1',
      '::ffff:10.0.0.1',
    ]) {
      expect(forbiddenAddress(ip, false), ip).toBe('a loopback or private address');
      expect(forbiddenAddress(ip, true), ip).toBeUndefined();
    }
    expect(forbiddenAddress('93.184.216.34', false)).toBeUndefined();
    expect(forbiddenAddress('2606:4700::1111', false)).toBeUndefined();
  });
});

describe('guardedFetch through openImageDownload', () => {
  const png = makePng(2, 2);
  let server: Loopback;
  beforeAll(async () => {
    server = await startHttp((req, res) => {
      if (req.url === '/png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      } else if (req.url === '/to-metadata') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end();
      } else {
        res.writeHead(302, { location: `http://localhost:${new URL(server.url).port}/png` });
        res.end();
      }
    });
  });
  afterAll(() => server.close());

  const download = (path: string, allowPrivate: boolean) =>
    openImageDownload(`${server.url}${path}`, {
      maxBytes: 1 << 20,
      timeoutMs: 2000,
      fetch: guardedFetch(allowPrivate),
    });
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'fetched',
      (err: unknown) => {
        const causes: string[] = [];
        for (let e = err; e instanceof Error; e = e.cause) causes.push(e.message);
        return causes.join(' <- ');
      },
    );

  it('fetches a loopback image when private addresses are allowed', async () => {
    const got = await download('/png', true);
    expect(await readAll(got.body)).toEqual(png);
  });

  it('refuses loopback by default, as a literal address and as a name resolved to it', async () => {
    expect(await refusal(download('/png', false))).toContain('a loopback or private address');
    const byName = openImageDownload(`http://localhost:${new URL(server.url).port}/png`, {
      maxBytes: 1 << 20,
      timeoutMs: 2000,
      fetch: guardedFetch(false),
    });
    expect(await refusal(byName)).toContain('a loopback or private address');
  });

  it('checks every redirect hop: to the metadata service refused, to a resolved name allowed', async () => {
    expect(await refusal(download('/to-metadata', true))).toContain('link-local');
    const hopped = await download('/to-localhost', true);
    expect(await readAll(hopped.body)).toEqual(png);
  });
});
