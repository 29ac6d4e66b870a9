import { describe, expect, it } from 'vitest';
import { costMicros, holdMicros } from './pricing.ts';

const claude = { input: 3, output: 15, cacheRead: 0.3, cacheWrite5m: 3.75, cacheWrite1h: 6 };

describe('costMicros', () => {
  it('bills each kind of input token at its own price, and the rest as plain input', () => {
    const usage = {
      promptTokens: 10_000,
      completionTokens: 1_000,
      cacheReadTokens: 6_000,
      cacheWrite5mTokens: 2_000,
      cacheWrite1hTokens: 1_000,
      reasoningTokens: 400,
    };
    // 1,000 plain × 3 + 6,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 1,000 output × 15 (reasoning is output)
    expect(costMicros(claude, usage)).toBe(3_000 + 1_800 + 7_500 + 6_000 + 15_000);
  });

  it('charges an unpriced cache kind as plain input, and takes cachedInput as the read price', () => {
    const usage = {
      promptTokens: 1_000,
      completionTokens: 0,
      cacheReadTokens: 500,
      cacheWrite1hTokens: 500,
    };
    expect(costMicros({ input: 2 }, usage)).toBe(2_000);
    expect(costMicros({ input: 2, cachedInput: 1 }, usage)).toBe(500 + 1_000);
    // 1 h writes fall back to the 5 min price before plain input.
    expect(costMicros({ input: 2, cacheWrite5m: 4 }, usage)).toBe(1_000 + 2_000);
  });

  it('never bills more cache tokens than the prompt had, whatever the upstream says', () => {
    const usage = {
      promptTokens: 100,
      completionTokens: 0,
      cacheReadTokens: 80,
      cacheWrite5mTokens: 80,
    };
    expect(costMicros(claude, usage)).toBe(Math.ceil(80 * 0.3 + 20 * 3.75));
  });
});

describe('holdMicros', () => {
  it('holds the prompt at the dearest input price, since it may all be written to the cache', () => {
    const estimate = { promptTokens: 1_000, completionTokens: 100 };
    expect(holdMicros(claude, estimate)).toBe(1_000 * 6 + 100 * 15);
    expect(holdMicros({ input: 3, output: 15 }, estimate)).toBe(3_000 + 1_500);
    expect(holdMicros(undefined, estimate)).toBe(0);
  });
});
