import {
  DeleteObjectsCommand,
  GetObjectCommand,
  NoSuchKey,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ImageStoreConfig } from './config.ts';

type S3ImagesConfig = Extract<ImageStoreConfig, { store: 's3' }>;
import { trackedBody } from './body.ts';
import { ImageError } from './errors.ts';
import { IMAGE_CACHE_CONTROL, extOfKey, imageUrl, isImageKey } from './keys.ts';
import { imageTypeForExt } from './sniff.ts';
import type { DeleteResult, ImageBody, ImageEntry, ImageStore, StoredImage } from './types.ts';

// Multipart parts are buffered in memory: this bounds one upload to about
// PART_SIZE * QUEUE_SIZE bytes however large the image is.
const PART_SIZE = 5 * 1024 * 1024; // the S3 minimum
const QUEUE_SIZE = 2;
const DELETE_BATCH = 1000; // DeleteObjects' limit

export interface S3ImageStoreOptions {
  publicBaseUrl: string;
  /** Extra client settings (tests, custom credentials); region/endpoint come from the config. */
  clientConfig?: S3ClientConfig;
}

export function s3ClientConfigFor(config: S3ImagesConfig): S3ClientConfig {
  return {
    region: config.region,
    ...(config.endpoint !== undefined && { endpoint: config.endpoint }),
    ...(config.forcePathStyle !== undefined && { forcePathStyle: config.forcePathStyle }),
    // S3-compatible services (R2, MinIO, older gateways) reject or mangle the SDK's default
    // flexible checksums (CRC32 trailers on every upload). Send them only where the API
    // requires one when talking to anything but AWS itself.
    ...(config.endpoint !== undefined && {
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  };
}

export function createS3ImageStore(
  config: S3ImagesConfig,
  { publicBaseUrl, clientConfig }: S3ImageStoreOptions,
): ImageStore {
  // Credentials come from the default AWS chain (env, profile, EC2 instance role).
  const client = new S3Client({ ...s3ClientConfigFor(config), ...clientConfig });
  const { bucket, prefix } = config;
  const storeFailed = (what: string, cause: unknown): ImageError =>
    new ImageError(503, 'image_store_failed', `could not ${what} the image store`, { cause });

  async function put(key: string, body: ImageBody, contentType: string): Promise<void> {
    if (!isImageKey(key)) throw new TypeError(`not an image key: ${JSON.stringify(key)}`);
    const { stream, bodyError } = trackedBody(body);
    const upload = new Upload({
      client,
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false, // a failed multipart upload is aborted, not left as parts
      params: {
        Bucket: bucket,
        Key: prefix + key,
        // A buffer goes as is (known length, a single PutObject); a stream goes part by part.
        Body: body instanceof Uint8Array ? body : stream,
        ContentType: contentType,
        CacheControl: IMAGE_CACHE_CONTROL,
      },
    });
    try {
      await upload.done();
    } catch (err) {
      stream.destroy();
      const failed = bodyError();
      if (failed) throw failed.error;
      throw storeFailed('write to', err);
    }
  }

  async function get(key: string): Promise<StoredImage | null> {
    const type = isImageKey(key) ? imageTypeForExt(extOfKey(key)) : null;
    if (!type) return null;
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
      if (!out.Body) return null;
      return {
        body: out.Body.transformToWebStream() as ReadableStream<Uint8Array>,
        size: out.ContentLength ?? 0,
        contentType: type.contentType,
        lastModified: out.LastModified ?? new Date(0),
        etag: out.ETag ?? `"${key}"`,
      };
    } catch (err) {
      if (err instanceof NoSuchKey) return null;
      throw storeFailed('read from', err);
    }
  }

  async function* list(options: { olderThan?: Date } = {}): AsyncIterable<ImageEntry> {
    const cutoff = options.olderThan?.getTime() ?? Infinity;
    const pages = paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix });
    const iterator = pages[Symbol.asyncIterator]();
    for (;;) {
      let next;
      try {
        next = await iterator.next();
      } catch (err) {
        throw storeFailed('list', err);
      }
      if (next.done) return;
      const page = next.value;
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(prefix.length) ?? '';
        const lastModified = object.LastModified ?? new Date(0);
        // Other objects may share the bucket; only our own keys are images.
        if (!isImageKey(key) || lastModified.getTime() >= cutoff) continue;
        yield { key, size: object.Size ?? 0, lastModified };
      }
    }
  }

  async function remove(keys: readonly string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: 0, failed: [] };
    const valid: string[] = [];
    for (const key of keys) {
      if (isImageKey(key)) valid.push(key);
      else result.failed.push({ key, message: 'not an image key' });
    }
    for (let i = 0; i < valid.length; i += DELETE_BATCH) {
      const batch = valid.slice(i, i + DELETE_BATCH);
      try {
        const out = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((key) => ({ Key: prefix + key })), Quiet: true },
          }),
        );
        const errors = out.Errors ?? [];
        for (const e of errors) {
          result.failed.push({
            key: (e.Key ?? '').slice(prefix.length),
            message: `${e.Code ?? 'Error'}: ${e.Message ?? 'delete failed'}`,
          });
        }
        result.deleted += batch.length - errors.length;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        for (const key of batch) result.failed.push({ key, message });
      }
    }
    return result;
  }

  return {
    kind: 's3',
    location: `s3://${bucket}/${prefix}`,
    put,
    get,
    list,
    delete: remove,
    urlFor: (key) => imageUrl(publicBaseUrl, key),
  };
}
