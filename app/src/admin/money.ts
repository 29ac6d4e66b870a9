import { microsToUsd } from '../store/types.ts';

/** USD for people: micro-dollars rounded to six decimals, so sums print without float noise. */
export const usd = (micros: number): number => Math.round(microsToUsd(micros) * 1e6) / 1e6;

export const isoOrNull = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();
