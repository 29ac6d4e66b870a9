import { z } from 'zod';

/** Settings every store shares: what the relay does with images, not where it keeps them. */
const common = {
  /** Keep b64_json answers in the store too (url answers are always stored). */
  archive: z.boolean().default(true),
  /** Largest image the relay downloads from an upstream's temporary URL (or decodes from base64). */
  maxImageBytes: z
    .number()
    .int()
    .positive()
    .default(50 * 1024 * 1024),
  downloadTimeoutMs: z.number().int().positive().default(60_000),
  /**
   * Let client image URLs the relay fetches itself (Bedrock) reach loopback and private
   * addresses (RFC 1918, 100.64/10, fc00::/7). Link-local ones, the metadata service among
   * them, stay refused either way.
   */
  allowPrivateImageUrls: z.boolean().default(false),
};

const localStoreSchema = z.strictObject({ store: z.literal('local'), ...common });

const s3StoreSchema = z.strictObject({
  store: z.literal('s3'),
  ...common,
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
  region: z.string().min(1),
  // The prefix is a folder: empty, or segments each ending in '/'. It must stay "images/" when
  // CloudFront maps /images/* straight onto the bucket.
  prefix: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/)*$/, 'must be "" or end with "/", e.g. "images/"')
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or ..')
    .default('images/'),
  // For S3-compatible services (Cloudflare R2, MinIO): their API endpoint.
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  forcePathStyle: z.boolean().optional(),
});

/** The relay config's `images` section; absent means the local store under the data dir. */
export const imagesConfigSchema = z
  .discriminatedUnion('store', [localStoreSchema, s3StoreSchema])
  .default({
    store: 'local',
    archive: true,
    maxImageBytes: 50 * 1024 * 1024,
    downloadTimeoutMs: 60_000,
    allowPrivateImageUrls: false,
  });

export type ImagesConfig = z.output<typeof imagesConfigSchema>;
export type S3ImagesConfig = z.output<typeof s3StoreSchema>;

/** Where images live: the part of the config a store needs (the rest is the relay's business). */
export type ImageStoreConfig =
  | { readonly store: 'local' }
  | Pick<S3ImagesConfig, 'store' | 'bucket' | 'region' | 'prefix' | 'endpoint' | 'forcePathStyle'>;
