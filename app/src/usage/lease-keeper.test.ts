import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from './lease-keeper.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const renewable = () => {
  const r = { renewals: 0, renewLease: () => void r.renewals++ };
  return r;
};

describe('LeaseKeeper', () => {
  it('renews every running hold each interval, on one interval for all', () => {
    const keeper = new LeaseKeeper(300);
    const [a, b] = [renewable(), renewable()];
    keeper.add(a);
    keeper.add(b);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect([a.renewals, b.renewals]).toEqual([2, 2]);
    keeper.delete(a);
    vi.advanceTimersByTime(100);
    expect([a.renewals, b.renewals]).toEqual([2, 3]);
  });

  it('keeps its interval across requests that come one at a time, and stops at an idle tick', () => {
    const keeper = new LeaseKeeper(300);
    for (let i = 0; i < 5; i++) {
      const r = renewable();
      keeper.add(r);
      keeper.delete(r);
    }
    expect(keeper.size).toBe(0);
    expect(keeper.ticking).toBe(true);
    vi.advanceTimersByTime(100);
    expect(keeper.ticking).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    // A later hold starts it again.
    const late = renewable();
    keeper.add(late);
    vi.advanceTimersByTime(100);
    expect(late.renewals).toBe(1);
  });
});
