import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { trackedBody } from './body.ts';
import { ImageError } from './errors.ts';
import { extOfKey, imageUrl, isImageKey } from './keys.ts';
import { imageTypeForExt } from './sniff.ts';
import type { DeleteResult, ImageBody, ImageEntry, ImageStore, StoredImage } from './types.ts';

export interface LocalImageStoreOptions {
  /** The folder that holds `yyyy/mm/dd/<id>.<ext>`, usually `<RELAY_DATA_DIR>/images`. */
  root: string;
  publicBaseUrl: string;
}

const isMissing = (err: unknown): boolean =>
  (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function createLocalImageStore({ root, publicBaseUrl }: LocalImageStoreOptions): ImageStore {
  const fileOf = (key: string): string => join(root, ...key.split('/'));

  async function put(key: string, body: ImageBody, contentType: string): Promise<void> {
    assertKey(key);
    void contentType; // the extension carries the type; it was chosen by sniffing the bytes
    const file = fileOf(key);
    // Write beside the target and rename: readers and listings never see a partial image.
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const { stream, bodyError } = trackedBody(body);
    try {
      await mkdir(join(file, '..'), { recursive: true });
      await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      await rename(tmp, file);
    } catch (err) {
      stream.destroy();
      await unlink(tmp).catch(() => undefined);
      const failed = bodyError();
      if (failed) throw failed.error;
      throw new ImageError(503, 'image_store_failed', 'could not write the image to the store', {
        cause: err,
      });
    }
  }

  async function get(key: string): Promise<StoredImage | null> {
    if (!isImageKey(key)) return null;
    const type = imageTypeForExt(extOfKey(key));
    if (!type) return null;
    let handle;
    try {
      // O_NOFOLLOW: a symlink planted in the store is not a way out of it.
      handle = await open(fileOf(key), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return null;
      throw new ImageError(503, 'image_store_failed', 'could not read the image from the store', {
        cause: err,
      });
    }
    const stats = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw new ImageError(503, 'image_store_failed', 'could not read the image from the store', {
        cause: err,
      });
    });
    if (!stats.isFile()) {
      await handle.close();
      return null;
    }
    const stream = handle.createReadStream({ autoClose: true });
    return {
      body: Readable.toWeb(stream) as ReadableStream<Uint8Array>,
      size: stats.size,
      contentType: type.contentType,
      lastModified: stats.mtime,
      etag: `"${stats.size.toString(16)}-${Math.trunc(stats.mtimeMs).toString(16)}"`,
    };
  }

  async function* list(options: { olderThan?: Date } = {}): AsyncIterable<ImageEntry> {
    const cutoff = options.olderThan?.getTime() ?? Infinity;
    for (const yyyy of await sortedDir(root, /^\d{4}$/)) {
      for (const mm of await sortedDir(join(root, yyyy), /^\d{2}$/)) {
        for (const dd of await sortedDir(join(root, yyyy, mm), /^\d{2}$/)) {
          for (const name of await sortedDir(join(root, yyyy, mm, dd), /^[^.]/)) {
            const key = `${yyyy}/${mm}/${dd}/${name}`;
            if (!isImageKey(key)) continue; // temp files and anything foreign are not images
            const stats = await lstat(fileOf(key)).catch((err: unknown) => {
              if (isMissing(err)) return null; // deleted while listing
              throw listFailed(err);
            });
            if (!stats?.isFile() || stats.mtimeMs >= cutoff) continue;
            yield { key, size: stats.size, lastModified: stats.mtime };
          }
        }
      }
    }
  }

  async function remove(keys: readonly string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: 0, failed: [] };
    const days = new Set<string>();
    for (const key of keys) {
      if (!isImageKey(key)) {
        result.failed.push({ key, message: 'not an image key' });
        continue;
      }
      try {
        await unlink(fileOf(key));
      } catch (err) {
        if (!isMissing(err)) {
          result.failed.push({ key, message: errorMessage(err) });
          continue;
        }
      }
      result.deleted += 1;
      days.add(key.slice(0, 10));
    }
    // Tidy day folders that pruning emptied; a folder still in use simply stays.
    for (const day of days) {
      const [yyyy = '', mm = ''] = day.split('/');
      for (const dir of [join(root, day), join(root, yyyy, mm), join(root, yyyy)]) {
        if (
          !(await rmdir(dir).then(
            () => true,
            () => false,
          ))
        )
          break;
      }
    }
    return result;
  }

  return {
    kind: 'local',
    location: root,
    put,
    get,
    list,
    delete: remove,
    urlFor: (key) => imageUrl(publicBaseUrl, key),
  };
}

function assertKey(key: string): void {
  // A programming error, not bad input: keys are only ever made by newImageKey.
  if (!isImageKey(key)) throw new TypeError(`not an image key: ${JSON.stringify(key)}`);
}

const listFailed = (cause: unknown): ImageError =>
  new ImageError(503, 'image_store_failed', 'could not list the image store', { cause });

async function sortedDir(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => pattern.test(name)).sort();
  } catch (err) {
    if (isMissing(err)) return [];
    throw listFailed(err);
  }
}
