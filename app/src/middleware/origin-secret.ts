import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { RelayError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * CloudFront adds a secret header on its way to the origin; requests without it came around
 * the CDN (straight to the instance) and are refused. /healthz stays open for local probes.
 */
export function originSecret(secret: string | undefined): MiddlewareHandler {
  if (!secret) return async (_c, next) => next();
  const expected = digest(secret);
  return async (c, next) => {
    if (c.req.path === '/healthz') return next();
    const got = c.req.header('x-origin-secret');
    // Comparing digests keeps the comparison constant-time whatever the lengths.
    if (!got || !timingSafeEqual(digest(got), expected)) {
      throw new RelayError(403, 'forbidden', "Requests must come through the relay's CDN.", {
        type: 'permission_error',
      });
    }
    return next();
  };
}
