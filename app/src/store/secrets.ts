import { hash, randomBytes } from 'node:crypto';

/**
 * Keys are 190 random bits, so a fast hash is enough: there is nothing to brute-force. The
 * one-shot `hash` makes no Hash object: ~300 ns a key against ~700 for createHash's chain, paid
 * twice by every guess of a key-scanning flood (the key cache's and the store's lookup).
 */
export function hashKey(secret: string): string {
  return hash('sha256', secret, 'hex');
}

const GENERATED_PREFIX = 'sk-relay-';
const GENERATED = /^sk-relay-[\w-]{32}$/;

export function generateKey(): string {
  return `${GENERATED_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/**
 * Enough to tell keys apart, never enough to help guess one: the last four characters (at most
 * a quarter of the key), after the fixed prefix only when the relay generated the key.
 */
export function keyHint(secret: string): string {
  const tail = secret.slice(secret.length - Math.min(4, Math.floor(secret.length / 4)));
  return `${GENERATED.test(secret) ? GENERATED_PREFIX : ''}…${tail}`;
}

/**
 * SQL that shortens a hint stored in the old form (first 8 and last 4 characters) to the
 * current one; `column` holds the hint.
 */
export const shortenOldHint = (column: string) =>
  `CASE WHEN substr(${column}, 1, 9) = 'sk-relay…' THEN 'sk-relay-…' || substr(${column}, -4)
   ELSE '…' || substr(${column}, -4) END`;
export const isOldHint = (column: string) =>
  `(length(${column}) = 13 AND substr(${column}, 9, 1) = '…')`;
