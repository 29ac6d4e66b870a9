import { randomBytes } from 'node:crypto';
import type { ImageType } from './sniff.ts';

/**
 * A store key is `yyyy/mm/dd/<id>.<ext>`: the date (UTC) of the write, 128 random bits in
 * base64url, and the sniffed extension. Nothing in it comes from the client or the upstream,
 * and every key read back from a URL or a listing must match this pattern exactly, which is
 * what keeps `..`, encoded separators and absolute paths out.
 */
export const IMAGE_KEY_PATTERN =
  /^(\d{4})\/(0[1-9]|1[0-2])\/(0[1-9]|[12]\d|3[01])\/[A-Za-z0-9_-]{22}\.(png|jpg|webp)$/;

/** Images never change under a key, so any cache may keep them for good. */
export const IMAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export const isImageKey = (key: string): boolean => IMAGE_KEY_PATTERN.test(key);

export function newImageKey(type: ImageType, now: Date = new Date()): string {
  const yyyy = String(now.getUTCFullYear()).padStart(4, '0');
  const mm = String(now.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(now.getUTCDate()).padStart(2, '0');
  const id = randomBytes(16).toString('base64url');
  return `${yyyy}/${mm}/${dd}/${id}.${type.ext}`;
}

/** The public URL of a stored image: the relay (or its CDN) serves `/images/<key>`. */
export const imageUrl = (publicBaseUrl: string, key: string): string =>
  `${publicBaseUrl.replace(/\/+$/, '')}/images/${key}`;

export const extOfKey = (key: string): string => key.slice(key.lastIndexOf('.') + 1);
