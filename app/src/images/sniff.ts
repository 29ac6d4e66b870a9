/** The only image types the relay stores: detected from the bytes, never from upstream headers. */
export type ImageType = { ext: 'png' | 'jpg' | 'webp'; contentType: string };

export const PNG: ImageType = { ext: 'png', contentType: 'image/png' };
export const JPEG: ImageType = { ext: 'jpg', contentType: 'image/jpeg' };
export const WEBP: ImageType = { ext: 'webp', contentType: 'image/webp' };

/** Bytes needed to tell the supported types apart. */
export const SNIFF_BYTES = 12;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const startsWith = (bytes: Uint8Array, sig: readonly number[], at = 0): boolean =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);

const ascii = (s: string): number[] => [...s].map((ch) => ch.charCodeAt(0));

export function sniffImageType(bytes: Uint8Array): ImageType | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return PNG;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return JPEG;
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return WEBP;
  return null;
}

const BY_EXT: Record<ImageType['ext'], ImageType> = { png: PNG, jpg: JPEG, webp: WEBP };

/** Content type for a stored key's extension (the extension was itself chosen by sniffing). */
export const imageTypeForExt = (ext: string): ImageType | null =>
  Object.hasOwn(BY_EXT, ext) ? BY_EXT[ext as ImageType['ext']] : null;
