import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runImagesCli } from '../../../app/src/cli/images.ts';
import { createImageStore } from '../../../app/src/images/create-store.ts';
import { newImageKey } from '../../../app/src/images/keys.ts';
import { PNG } from '../../../app/src/images/sniff.ts';
import type { ImageStore } from '../../../app/src/images/types.ts';
import { makePng } from '../../fixtures/images/make-images.ts';
import type { S3Fixture } from '../../fixtures/images/servers.ts';
import { S3RVER_CREDENTIALS, startS3 } from '../../fixtures/images/servers.ts';

const NOW = new Date('2026-11-22T12:00:00Z');
const DAY = 86_400_000;

let dir: string;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let s3: S3Fixture;

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3.close();
});
beforeEach(async () => {
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  dir = await mkdtemp(join(tmpdir(), 'relay-cli-'));
  dataDir = join(dir, 'data');
  env = { RELAY_CONFIG: join(dir, 'relay.config.json'), RELAY_DATA_DIR: dataDir };
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runImagesCli(argv, { env, stdout, stderr, now: () => NOW });
  return { code, out, err };
}

const localStore = (): ImageStore =>
  createImageStore({ store: 'local' }, { dataDir, publicBaseUrl: '' });

/** Stores an image whose file was last modified `daysAgo` days before NOW. */
async function storeImage(daysAgo: number): Promise<string> {
  const when = new Date(NOW.getTime() - daysAgo * DAY);
  const key = newImageKey(PNG, when);
  await localStore().put(key, makePng(), PNG.contentType);
  await utimes(join(dataDir, 'images', key), when, when);
  return key;
}

async function keysInStore(store: ImageStore = localStore()): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list()) keys.push(entry.key);
  return keys;
}

describe('npm run images -- list', () => {
  it('lists every image as: last modified, bytes, key; the store goes to stderr', async () => {
    const old = await storeImage(40);
    const recent = await storeImage(2);
    const { code, out, err } = await run('list');
    expect(code).toBe(0);
    const size = makePng().length;
    expect(out.trim().split('\n')).toEqual([
      `${new Date(NOW.getTime() - 40 * DAY).toISOString()}\t${size}\t${old}`,
      `${new Date(NOW.getTime() - 2 * DAY).toISOString()}\t${size}\t${recent}`,
    ]);
    expect(err).toContain(`store: ${join(dataDir, 'images')}`);
    expect(err).toContain('2 images');
  });

  it('filters with --older-than', async () => {
    const old = await storeImage(40);
    await storeImage(2);
    const { code, out } = await run('list', '--older-than', '30d');
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[2]),
    ).toEqual([old]);
  });

  it('reads an S3-compatible store from the config, with the default AWS credential chain', async () => {
    await writeFile(
      env.RELAY_CONFIG!,
      JSON.stringify({ server: { publicBaseUrl: 'https://x' }, images: s3.config }),
    );
    vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
    const store = createImageStore(
      { ...s3.config },
      { dataDir, publicBaseUrl: '', s3ClientConfig: { credentials: S3RVER_CREDENTIALS } },
    );
    const key = newImageKey(PNG);
    await store.put(key, makePng(), PNG.contentType);

    const { code, out, err } = await run('list');
    await store.delete([key]);
    expect(code).toBe(0);
    expect(err).toContain(`store: s3://${s3.config.bucket}/images/`);
    expect(out).toContain(key);
  });
});

describe('npm run images -- prune', () => {
  it('deletes images older than the age and keeps the rest', async () => {
    await storeImage(45);
    await storeImage(31);
    const recent = await storeImage(29);
    const { code, err } = await run('prune', '--older-than', '30d');
    expect(code).toBe(0);
    expect(err).toContain('deleted 2 of 2 images');
    expect(await keysInStore()).toEqual([recent]);
  });

  it('with --dry-run lists what it would delete and deletes nothing', async () => {
    const old = await storeImage(45);
    const recent = await storeImage(1);
    const { code, out, err } = await run('prune', '--older-than', '30d', '--dry-run');
    expect(code).toBe(0);
    expect(out).toContain(old);
    expect(out).not.toContain(recent);
    expect(err).toContain('dry run: would delete 1 image');
    expect(await keysInStore()).toEqual([old, recent].sort());
  });

  it('shows a progress bar when asked (and on a terminal for long prunes)', async () => {
    for (let i = 0; i < 3; i++) await storeImage(60 + i);
    const { code, err } = await run('prune', '--older-than', '30d', '--progress');
    expect(code).toBe(0);
    expect(err).toMatch(/pruning \[.*\] 100% \| 3\/3 images/);
  });

  it('does nothing, successfully, when nothing is old enough', async () => {
    const recent = await storeImage(1);
    const { code, err } = await run('prune', '--older-than', '2w');
    expect(code).toBe(0);
    expect(err).toContain('deleted 0 of 0 images');
    expect(await keysInStore()).toEqual([recent]);
  });
});

describe('the images CLI on bad input', () => {
  it.each([
    [[], 'missing command'],
    [['show'], 'unknown command "show"'],
    [['list', 'extra'], 'unexpected argument "extra"'],
    [['prune'], 'prune needs --older-than'],
    [['prune', '--older-than', '30 days'], 'is not an age'],
    [['prune', '--older-than', '0d'], 'is not an age'],
    [['prune', '--older-than'], 'argument missing'],
    [['list', '--dry-run'], 'only apply to prune'],
    [['prune', '--older-than', '1d', '--force'], "Unknown option '--force'"],
  ])('exits 2 for %j, saying %s', async (argv, message) => {
    await storeImage(90);
    const { code, err } = await run(...argv);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(await keysInStore()).toHaveLength(1);
  });

  it('exits 2 for a config file that is not JSON', async () => {
    await writeFile(env.RELAY_CONFIG!, '{ "images": ');
    const { code, err } = await run('list');
    expect(code).toBe(2);
    expect(err).toContain('is not valid JSON');
  });

  it('exits 2 for an invalid images section, naming the field', async () => {
    await writeFile(env.RELAY_CONFIG!, JSON.stringify({ images: { store: 's3', region: 'x' } }));
    const { code, err } = await run('list');
    expect(code).toBe(2);
    expect(err).toContain('images.bucket');
  });

  it('exits 1 when the store cannot be reached', async () => {
    const closed = { ...s3.config, endpoint: 'http://127.0.0.1:9' };
    await writeFile(env.RELAY_CONFIG!, JSON.stringify({ images: closed }));
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret-key-never-printed');
    vi.stubEnv('AWS_MAX_ATTEMPTS', '1');
    const { code, err } = await run('prune', '--older-than', '1d');
    expect(code).toBe(1);
    expect(err).toMatch(/^error: could not list the image store \(.*ECONNREFUSED/m);
    expect(err).not.toContain('secret-key-never-printed');
  });

  it('prints help and exits 0 as a real process', () => {
    const result = spawnSync(process.execPath, ['app/src/cli/images.ts', '--help'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 15_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: npm run images -- <command>');
  });

  it('exits 2 as a real process on bad usage', () => {
    const result = spawnSync(process.execPath, ['app/src/cli/images.ts', 'prune'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 15_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('prune needs --older-than');
  });
});
