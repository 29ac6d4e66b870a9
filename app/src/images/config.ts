import { z } from 'zod';

const localStoreSchema = z.strictObject({ store: z.literal('local') });

const s3StoreSchema = z.strictObject({
  store: z.literal('s3'),
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
  .default({ store: 'local' });

export type ImagesConfig = z.output<typeof imagesConfigSchema>;
export type S3ImagesConfig = z.output<typeof s3StoreSchema>;
