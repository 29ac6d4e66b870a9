import { join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { ImageStoreConfig } from './config.ts';
import { ImageError } from './errors.ts';
import { imageUrl } from './keys.ts';
import { createLocalImageStore } from './local-store.ts';
import type { ImageStore } from './types.ts';

export interface ImageStoreContext {
  /** RELAY_DATA_DIR: the local store lives in `<dataDir>/images`. */
  dataDir: string;
  /** The relay's public base URL (`server.publicBaseUrl`); image URLs hang off it. */
  publicBaseUrl: string;
  s3ClientConfig?: S3ClientConfig;
}

type S3ImagesConfig = Extract<ImageStoreConfig, { store: 's3' }>;

/**
 * The S3 store, with the AWS SDK imported on the first image
 * call: a relay that never stores an image never loads it.
 */
function lazyS3ImageStore(config: S3ImagesConfig, context: ImageStoreContext): ImageStore {
  let loaded: Promise<ImageStore> | undefined;
  const load = async (): Promise<ImageStore> => {
    const { createS3ImageStore } = await import('./s3-store.ts');
    return createS3ImageStore(config, {
      publicBaseUrl: context.publicBaseUrl,
      ...(context.s3ClientConfig && { clientConfig: context.s3ClientConfig }),
    });
  };
  // A load that failed (EMFILE, a file replaced mid-deploy) is forgotten, so the next image call
  // tries again instead of failing for the life of the process, and the client hears the
  // contract's image_store_failed rather than a bare 500.
  const store = (): Promise<ImageStore> =>
    (loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw new ImageError(503, 'image_store_failed', 'could not load the image store', {
        cause: err,
      });
    }));
  return {
    kind: 's3',
    location: `s3://${config.bucket}/${config.prefix}`,
    put: async (key, body, contentType) => (await store()).put(key, body, contentType),
    get: async (key) => (await store()).get(key),
    async *list(options) {
      yield* (await store()).list(options);
    },
    delete: async (keys) => (await store()).delete(keys),
    urlFor: (key) => imageUrl(context.publicBaseUrl, key),
  };
}

/** No I/O happens here: folders are made and connections opened on first use. */
export function createImageStore(config: ImageStoreConfig, context: ImageStoreContext): ImageStore {
  if (config.store === 's3') return lazyS3ImageStore(config, context);
  return createLocalImageStore({
    root: join(context.dataDir, 'images'),
    publicBaseUrl: context.publicBaseUrl,
  });
}
