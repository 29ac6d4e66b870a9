import type { ImageEntry, ImageStore } from './types.ts';

export interface PruneOptions {
  olderThan: Date;
  dryRun?: boolean;
  /** Called after each deleted batch, and once with (0, total) before the first. */
  onProgress?: (done: number, total: number) => void;
  batchSize?: number;
}

export interface PruneResult {
  /** Images last modified before `olderThan`. */
  matched: ImageEntry[];
  bytes: number;
  deleted: number;
  failed: { key: string; message: string }[];
}

/** Deletes images last modified before a date, in batches; a dry run only lists them. */
export async function pruneImages(store: ImageStore, options: PruneOptions): Promise<PruneResult> {
  const matched: ImageEntry[] = [];
  let bytes = 0;
  for await (const entry of store.list({ olderThan: options.olderThan })) {
    matched.push(entry);
    bytes += entry.size;
  }
  const result: PruneResult = { matched, bytes, deleted: 0, failed: [] };
  if (options.dryRun || matched.length === 0) return result;

  const batchSize = Math.max(1, options.batchSize ?? 1000);
  options.onProgress?.(0, matched.length);
  for (let i = 0; i < matched.length; i += batchSize) {
    const batch = matched.slice(i, i + batchSize).map((entry) => entry.key);
    const out = await store.delete(batch);
    result.deleted += out.deleted;
    result.failed.push(...out.failed);
    options.onProgress?.(Math.min(i + batchSize, matched.length), matched.length);
  }
  return result;
}
