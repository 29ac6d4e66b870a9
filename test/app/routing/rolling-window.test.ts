import { describe, expect, it } from 'vitest';
import { RollingWindow } from '../../../app/src/routing/rolling-window.ts';

describe('RollingWindow', () => {
  it('counts calls and failures of the last window only, one bucket at a time', () => {
    const w = new RollingWindow(10_000, 10); // 1 s buckets
    const t0 = 1_700_000_000_000;
    w.record(t0, true);
    w.record(t0 + 500, false);
    w.record(t0 + 4_000, true);
    expect(w.totals(t0 + 4_000)).toEqual({ calls: 3, failures: 2 });
    // 10 s later the first bucket has slid out, the one at +4 s not yet.
    expect(w.totals(t0 + 10_000)).toEqual({ calls: 1, failures: 1 });
    expect(w.totals(t0 + 14_000)).toEqual({ calls: 0, failures: 0 });
  });

  it('reuses its buckets: a slot from a lap ago starts from zero', () => {
    const w = new RollingWindow(10_000, 10);
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 1_000; i++) w.record(t0, true);
    w.record(t0 + 10_000, false); // same slot, next lap
    expect(w.totals(t0 + 10_000)).toEqual({ calls: 1, failures: 0 });
  });

  it('forgets everything on reset', () => {
    const w = new RollingWindow(30_000);
    w.record(5_000, true);
    w.reset();
    expect(w.totals(5_000)).toEqual({ calls: 0, failures: 0 });
  });
});
