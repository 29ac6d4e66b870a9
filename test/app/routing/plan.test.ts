import { describe, expect, it } from 'vitest';
import { planAttemptOrder } from '../../../app/src/routing/plan.ts';
import { seededRandom } from '../../fixtures/seeded-random.ts';

const names = (cs: Array<{ name: string }>): string[] => cs.map((c) => c.name);

describe('planAttemptOrder', () => {
  it('orders by priority ascending whatever the weights', () => {
    const order = planAttemptOrder(
      [
        { name: 'late', priority: 2, weight: 100 },
        { name: 'first', priority: 0, weight: 1 },
        { name: 'mid', priority: 1 },
      ],
      { random: seededRandom(1) },
    );
    expect(names(order)).toEqual(['first', 'mid', 'late']);
  });

  it('lists each channel once and skips refused ones', () => {
    const order = planAttemptOrder([{ name: 'a' }, { name: 'b' }, { name: 'a' }, { name: 'c' }], {
      random: seededRandom(2),
      admits: (c) => c.name !== 'b',
    });
    expect(names(order).sort()).toEqual(['a', 'c']);
  });

  it('splits first picks by weight within a priority (seeded, 10k draws)', () => {
    const random = seededRandom(42);
    const firsts = { a: 0, b: 0, c: 0 };
    const seconds = { a: 0, b: 0, c: 0 };
    const runs = 10_000;
    const lasts = new Set<string>();
    for (let i = 0; i < runs; i++) {
      const order = planAttemptOrder(
        [
          { name: 'a' as const, weight: 6 },
          { name: 'b' as const, weight: 3 },
          { name: 'c' as const, weight: 1 },
          { name: 'backup' as const, priority: 1, weight: 50 },
        ],
        { random },
      );
      lasts.add(`${order.length}:${order[3]?.name}`);
      firsts[order[0]?.name as 'a' | 'b' | 'c']++;
      seconds[order[1]?.name as 'a' | 'b' | 'c']++;
    }
    expect([...lasts]).toEqual(['4:backup']);
    expect(firsts.a / runs).toBeCloseTo(0.6, 1);
    expect(firsts.b / runs).toBeCloseTo(0.3, 1);
    expect(firsts.c / runs).toBeCloseTo(0.1, 1);
    // Second place among the rest: P(b second) = .6*(3/4) + .1*(3/9) ≈ .483
    expect(seconds.b / runs).toBeGreaterThan(0.45);
    expect(seconds.b / runs).toBeLessThan(0.52);
  });

  it('puts weight 0 last within its priority, before lower priorities', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const order = planAttemptOrder(
        [
          { name: 'spare', weight: 0 },
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
          { name: 'lower', priority: 5 },
        ],
        { random },
      );
      expect(names(order).slice(2)).toEqual(['spare', 'lower']);
    }
  });

  it('is deterministic for a given random source', () => {
    const cs = [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }];
    expect(names(planAttemptOrder(cs, { random: seededRandom(9) }))).toEqual(
      names(planAttemptOrder(cs, { random: seededRandom(9) })),
    );
  });
});
