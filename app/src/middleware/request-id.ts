/**
 * A UUIDv7 as 32 hex digits: 48 bits of milliseconds, then random bits. Ids sorted by time
 * keep the usage table's request-id index growing at its end; random ones would write a
 * random index page for every request.
 */
export function timeOrderedId(nowMs: number): string {
  const random = crypto.randomUUID().replaceAll('-', '');
  // random[12] is the v4 version digit; from 13 on (variant bits included) it stays as is.
  return `${nowMs.toString(16).padStart(12, '0').slice(-12)}7${random.slice(13)}`;
}

/**
 * Always the relay's own id: usage rows and logs are looked up by it, so a client must not be
 * able to choose (or collide with) one.
 */
export const newRequestId = (): string => `req_${timeOrderedId(Date.now())}`;
