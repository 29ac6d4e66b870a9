import { join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { ImageStoreConfig } from './config.ts';
import { createLocalImageStore } from './local-store.ts';
import { createS3ImageStore } from './s3-store.ts';
import type { ImageStore } from './types.ts';

export interface ImageStoreContext {
  /** RELAY_DATA_DIR: the local store lives in `<dataDir>/images`. */
  dataDir: string;
  /** The relay's public base URL (`server.publicBaseUrl`); image URLs hang off it. */
  publicBaseUrl: string;
  s3ClientConfig?: S3ClientConfig;
}

/** No I/O happens here: folders are made and connections opened on first use. */
export function createImageStore(config: ImageStoreConfig, context: ImageStoreContext): ImageStore {
  if (config.store === 's3') {
    return createS3ImageStore(config, {
      publicBaseUrl: context.publicBaseUrl,
      ...(context.s3ClientConfig && { clientConfig: context.s3ClientConfig }),
    });
  }
  return createLocalImageStore({
    root: join(context.dataDir, 'images'),
    publicBaseUrl: context.publicBaseUrl,
  });
}
