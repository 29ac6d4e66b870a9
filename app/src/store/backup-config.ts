import { z } from 'zod';

/**
 * The relay config's `backup` section: online copies of the SQLite database to S3 (or an
 * S3-compatible service), for a point-in-time restore without touching the host's disks.
 * Absent: no backups.
 */
export const backupConfigSchema = z
  .strictObject({
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
    region: z.string().min(1),
    /** A folder of its own, so its lifecycle rule (expiry) touches nothing else. */
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9_.-]+\/)+$/, 'must be a folder ending in "/", e.g. "backups/sqlite/"')
      .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or ..')
      .default('backups/sqlite/'),
    /** Backups run at every multiple of this interval (wall clock), so restarts never skip one. */
    intervalMinutes: z.number().int().min(5).max(1440).default(60),
    // For S3-compatible services (Cloudflare R2, MinIO): their API endpoint.
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    forcePathStyle: z.boolean().optional(),
  })
  .optional();

export type BackupConfig = NonNullable<z.output<typeof backupConfigSchema>>;
