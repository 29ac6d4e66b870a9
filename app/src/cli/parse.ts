/** `2027-01-01` (end of that day is not implied: midnight UTC) or a full ISO timestamp → epoch ms. */
export function parseExpiry(value: string): number {
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms))
    throw new Error(`invalid date "${value}": use YYYY-MM-DD or an ISO timestamp`);
  return ms;
}

/** A USD amount from the command line: a plain non-negative number. */
export function parseUsd(value: string, what: string): number {
  if (!/^\d+(\.\d+)?$/.test(value.trim()))
    throw new Error(`${what} must be a non-negative number of USD, got "${value}"`);
  return Number(value);
}
