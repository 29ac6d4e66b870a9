/** Percentiles, means and labels for the bench's tables: small, pure, and tested on their own. */

/** The p-th percentile of an ascending list (nearest rank); NaN for no samples. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** max − min as % of the mean: how far repetitions disagree. */
export const spread = (xs: readonly number[]) =>
  xs.length < 2 ? 0 : ((Math.max(...xs) - Math.min(...xs)) / Math.abs(mean(xs))) * 100;

export const median = (xs: readonly number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    50,
  );

/**
 * Samples ascending, for pct(), without the ones that never happened (a stream whose content
 * marker was never seen has no TTFT, NaN): a NaN among numbers leaves the sort order, and so
 * every percentile, undefined.
 */
export const ascending = (xs: readonly number[]): number[] =>
  xs.filter(Number.isFinite).sort((a, b) => a - b);

/** RSS is read in KiB (/proc's "kB" are 1,024 bytes), so this is MiB, as the targets are. */
export const mb = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** A peak is the highest of the repetitions' peaks: their mean would hide the worst one. */
const PEAK_KEYS: ReadonlySet<string> = new Set(['peakRssKiB']);

/**
 * The mean of each metric over repetitions (the max for a peak), with its spread under `spread`.
 */
export function summarize<K extends string>(
  reps: readonly Readonly<Record<K, number>>[],
  keys: readonly K[],
): Record<K, number> & { spread: Record<K, number> } {
  const over = (f: (xs: number[], k: K) => number) =>
    Object.fromEntries(
      keys.map((k) => [
        k,
        f(
          reps.map((r) => r[k]),
          k,
        ),
      ]),
    ) as Record<K, number>;
  const center = (xs: number[], k: K) => (PEAK_KEYS.has(k) ? Math.max(...xs) : mean(xs));
  return { ...over(center), spread: over(spread) };
}
