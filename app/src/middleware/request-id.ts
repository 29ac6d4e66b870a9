/** The hex timestamp and version digit of the last millisecond an id was made in. */
let lastMs = -1;
let lastPrefix = '';

/**
 * A UUIDv7 as 32 hex digits: 48 bits of milliseconds, then random bits. Ids sorted by time
 * keep the usage table's request-id index growing at its end; random ones would write a
 * random index page for every request. The random part is sliced out of a v4 UUID around its
 * dashes and version digit (a replaceAll and a fresh timestamp per id took twice as long).
 */
export function timeOrderedId(nowMs: number): string {
  if (nowMs !== lastMs) {
    lastMs = nowMs;
    lastPrefix = `${nowMs.toString(16).padStart(12, '0').slice(-12)}7`;
  }
  // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: what follows the version digit (variant bits included).
  const uuid = crypto.randomUUID();
  return lastPrefix + uuid.slice(15, 18) + uuid.slice(19, 23) + uuid.slice(24);
}

/**
 * Always the relay's own id: usage rows and logs are looked up by it, so a client must not be
 * able to choose (or collide with) one.
 */
export const newRequestId = (): string => `req_${timeOrderedId(Date.now())}`;
