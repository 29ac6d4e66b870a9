import { describe, expect, it } from 'vitest';
import { ascending, mb, pct, summarize } from '../../bench/stats.ts';

describe("the bench's statistics", () => {
  it('leaves samples that never happened (a stream without a content token) out of percentiles', () => {
    const ttft = ascending([3, NaN, 1, 2, NaN]);
    expect(pct(ttft, 50)).toBe(2);
    expect(pct(ttft, 99)).toBe(3);
  });

  it('says MiB for an RSS read from /proc in KiB', () => {
    expect(mb(260 * 1024)).toBe('260.0 MiB');
  });

  it('reports the highest peak RSS of the repetitions, and the mean of the rest', () => {
    const s = summarize(
      [
        { rps: 100, peakRssKiB: 200_000 },
        { rps: 300, peakRssKiB: 260_000 },
      ],
      ['rps', 'peakRssKiB'],
    );
    expect(s.rps).toBe(200);
    expect(s.peakRssKiB).toBe(260_000);
  });
});
