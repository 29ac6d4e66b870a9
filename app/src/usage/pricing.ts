import type { Price } from '../config.ts';
import type { Micros } from '../store/types.ts';
import type { TokenUsage } from './extract.ts';

export interface Billable extends TokenUsage {
  readonly images?: number;
}

/** Cost in micro-USD, rounded up so a long run of tiny requests is never free. */
export function costMicros(price: Price | undefined, usage: Billable): Micros {
  if (!price) return 0;
  const cached = Math.min(usage.cachedTokens ?? 0, usage.promptTokens);
  const uncached = usage.promptTokens - (price.cachedInput === undefined ? 0 : cached);
  // Prices are USD per 1M tokens, which is exactly micro-USD per token.
  const micros =
    uncached * (price.input ?? 0) +
    (price.cachedInput === undefined ? 0 : cached * price.cachedInput) +
    usage.completionTokens * (price.output ?? 0) +
    (usage.images ?? 0) * (price.image ?? 0) * 1_000_000 +
    ((usage.audioSeconds ?? 0) / 60) * (price.audioMinute ?? 0) * 1_000_000 +
    (price.request ?? 0) * 1_000_000;
  return Math.ceil(micros);
}

export function priceFor(
  prices: Readonly<Record<string, Price>>,
  ...models: (string | null | undefined)[]
): Price | undefined {
  for (const m of models) if (m && prices[m]) return prices[m];
  return undefined;
}
