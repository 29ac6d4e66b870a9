/**
 * The S3 image store loads the AWS SDK on its first call. A load that fails (here: the module
 * file cannot be read, as with EMFILE) answers the contract's image_store_failed, and the next
 * call loads again rather than failing for the life of the process. Run in a fresh Node process
 * whose module hook fails the first read of the S3 store's file.
 */
import { describe, expect, it } from 'vitest';
import { failFirstLoad, runNodeScript } from '../../fixtures/import-trace.ts';

const script = `${failFirstLoad('/images/s3-store.ts')}
const { createImageStore } = await import('./app/src/images/create-store.ts');
const { newImageKey } = await import('./app/src/images/keys.ts');
const { PNG } = await import('./app/src/images/sniff.ts');
const store = createImageStore(
  { store: 's3', bucket: 'b', prefix: 'i/', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', forcePathStyle: true },
  { dataDir: '/nonexistent', publicBaseUrl: 'http://relay', s3ClientConfig: { maxAttempts: 1 } },
);
for (let i = 0; i < 2; i++) {
  const err = await store.get(newImageKey(PNG)).then(() => undefined, (e) => e);
  console.log(JSON.stringify({ name: err?.name, code: err?.code, status: err?.status, message: err?.message, loads }));
}
`;

describe('the S3 image store when its SDK fails to load', () => {
  it('answers image_store_failed, then loads again on the next call', () => {
    const {
      lines: [first, second],
      stderr,
    } = runNodeScript(script);
    expect(first, stderr).toMatchObject({
      name: 'ImageError',
      code: 'image_store_failed',
      status: 503,
      message: 'could not load the image store',
    });
    // Loaded this time: the failure is the (refused) bucket's, not a remembered load error.
    expect(second, stderr).toMatchObject({
      name: 'ImageError',
      code: 'image_store_failed',
      message: 'could not read from the image store',
      loads: 2,
    });
  });
});
