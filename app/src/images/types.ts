/** Bytes to store: a buffer already in memory, or a stream that is consumed exactly once. */
export type ImageBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface StoredImage {
  body: ReadableStream<Uint8Array>;
  size: number;
  contentType: string;
  lastModified: Date;
  etag: string;
}

export interface ImageEntry {
  key: string;
  size: number;
  lastModified: Date;
}

export interface DeleteResult {
  deleted: number;
  failed: { key: string; message: string }[];
}

/**
 * Where generated images live. Keys are always `yyyy/mm/dd/<id>.<ext>` (see keys.ts); a store
 * adds its own location (folder, bucket prefix) and never accepts any other key shape.
 */
export interface ImageStore {
  readonly kind: 'local' | 's3';
  /** Where the images are, for operators (`/data/images`, `s3://bucket/images/`). No secrets. */
  readonly location: string;
  /**
   * Writes the image; resolves only once it is durably readable at `urlFor(key)`. Rejects with
   * ImageError `image_store_failed`, or with the body's own error when the body fails; either
   * way nothing is left under `key`.
   */
  put(key: string, body: ImageBody, contentType: string): Promise<void>;
  /** The stored image, or null when the key is invalid or absent. */
  get(key: string): Promise<StoredImage | null>;
  /** Every stored image (in key order), optionally only those last modified before a date. */
  list(options?: { olderThan?: Date }): AsyncIterable<ImageEntry>;
  /** Deletes the keys; missing keys count as deleted. Never throws for a per-key failure. */
  delete(keys: readonly string[]): Promise<DeleteResult>;
  urlFor(key: string): string;
}
