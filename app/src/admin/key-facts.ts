import type { KeyRecord } from '../store/types.ts';
import { isoOrNull, usd } from './money.ts';

/**
 * A key as people read it, without its secret (the hint only): what the admin API shows and
 * what audit rows keep as before and after, from the API and the CLI alike.
 */
export function keyFacts(k: KeyRecord) {
  return {
    name: k.name,
    hint: k.hint,
    quotaUsd: k.quotaMicros === null ? null : usd(k.quotaMicros),
    usedUsd: usd(k.usedMicros),
    reservedUsd: usd(k.reservedMicros),
    remainingUsd:
      k.quotaMicros === null ? null : usd(k.quotaMicros - k.usedMicros - k.reservedMicros),
    models: [...k.models],
    expiresAt: isoOrNull(k.expiresAt),
    rpm: k.rpm,
    tpm: k.tpm,
    enabled: k.enabled,
    createdAt: new Date(k.createdAt).toISOString(),
  };
}
