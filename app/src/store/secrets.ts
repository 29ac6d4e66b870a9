import { createHash, randomBytes } from 'node:crypto';

/** Keys are 190 random bits, so a fast hash is enough: there is nothing to brute-force. */
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateKey(): string {
  return `sk-relay-${randomBytes(24).toString('base64url')}`;
}

export function keyHint(secret: string): string {
  return `${secret.slice(0, 8)}…${secret.slice(-4)}`;
}
