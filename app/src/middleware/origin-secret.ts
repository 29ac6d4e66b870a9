import { hash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { RelayError } from '../errors.ts';
import { requestHeader } from '../node-bindings.ts';

/** One-shot: every request behind the CDN pays one (see hashKey). */
const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * CloudFront adds a secret header on its way to the origin; requests without it came around
 * the CDN (straight to the instance) and are refused. /healthz stays open for local probes.
 * A check (it throws), not a middleware: the edge middleware runs it. None without a secret.
 */
export function originSecret(secret: string | undefined): ((c: Context) => void) | undefined {
  if (!secret) return undefined;
  const expected = digest(secret);
  return (c) => {
    if (c.req.path === '/healthz') return;
    const got = requestHeader(c, 'x-origin-secret');
    // Comparing digests keeps the comparison constant-time whatever the lengths.
    if (!got || !timingSafeEqual(digest(got), expected)) {
      throw new RelayError(403, 'forbidden', "Requests must come through the relay's CDN.", {
        type: 'permission_error',
      });
    }
  };
}
