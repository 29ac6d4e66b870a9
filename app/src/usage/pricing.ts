import type { Price } from '../config.ts';
import type { Micros } from '../store/types.ts';
import type { TokenUsage } from '../core/usage.ts';

export interface Billable extends TokenUsage {
  readonly images?: number;
}

/** USD per 1M input tokens for each kind of input token; unpriced kinds cost plain input. */
function inputPrices(price: Price) {
  const input = price.input ?? 0;
  const write5m = price.cacheWrite5m ?? input;
  return {
    input,
    read: price.cacheRead ?? price.cachedInput ?? input,
    write5m,
    write1h: price.cacheWrite1h ?? write5m,
  };
}

/** Cost in micro-USD, rounded up so a long run of tiny requests is never free. */
export function costMicros(price: Price | undefined, usage: Billable): Micros {
  if (!price) return 0;
  const p = inputPrices(price);
  // The parts can never add up to more than the whole, whatever an upstream reports.
  let left = usage.promptTokens;
  const take = (n: number | undefined) => {
    const t = Math.min(Math.max(0, n ?? 0), left);
    left -= t;
    return t;
  };
  const read = take(usage.cacheReadTokens);
  const write5m = take(usage.cacheWrite5mTokens);
  const write1h = take(usage.cacheWrite1hTokens);
  // Prices are USD per 1M tokens, which is exactly micro-USD per token.
  const micros =
    left * p.input +
    read * p.read +
    write5m * p.write5m +
    write1h * p.write1h +
    usage.completionTokens * (price.output ?? 0) +
    (usage.images ?? 0) * (price.image ?? 0) * 1_000_000 +
    ((usage.audioSeconds ?? 0) / 60) * (price.audioMinute ?? 0) * 1_000_000 +
    (price.request ?? 0) * 1_000_000;
  return Math.ceil(micros);
}

/**
 * What to hold before the call: the estimate at the dearest input price, since the prompt
 * may turn out to be written to the cache (1.25× or 2× input at Anthropic), never cheaper.
 */
export function holdMicros(price: Price | undefined, estimate: Billable): Micros {
  if (!price) return 0;
  const p = inputPrices(price);
  const dearest = Math.max(p.input, p.read, p.write5m, p.write1h);
  return costMicros({ ...price, input: dearest }, { ...estimate, cacheReadTokens: 0 });
}

export function priceFor(
  prices: Readonly<Record<string, Price>>,
  ...models: (string | null | undefined)[]
): Price | undefined {
  for (const m of models) if (m && prices[m]) return prices[m];
  return undefined;
}
