import { describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../app/src/routing/clock.ts';
import { KEEP_ALIVE_COMMENT, startHeartbeat } from '../../../app/src/streaming/heartbeat.ts';
import { ManualClock } from '../../fixtures/manual-clock.ts';

describe('startHeartbeat', () => {
  it('emits an SSE comment every interval until stopped', async () => {
    const clock = new ManualClock();
    const out: string[] = [];
    const hb = startHeartbeat({ clock, intervalMs: 15_000, onBeat: (c) => void out.push(c) });
    await clock.advance(14_999);
    expect(out).toEqual([]);
    await clock.advance(1);
    expect(out).toEqual([KEEP_ALIVE_COMMENT]);
    await clock.advance(30_000);
    expect(out).toHaveLength(3);
    expect(hb.beats).toBe(3);
    hb.stop();
    await hb.done;
    await clock.advance(60_000);
    expect(out).toHaveLength(3);
    expect(hb.stopped).toBe(true);
    expect(clock.pending()).toEqual([]);
    expect(KEEP_ALIVE_COMMENT).toBe(': keep-alive\n\n');
  });

  it('stops when writing fails (client gone)', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const hb = startHeartbeat({
      clock,
      intervalMs: 1_000,
      onBeat: async () => {
        calls++;
        throw new Error('stream closed');
      },
    });
    await clock.advance(5_000);
    await hb.done;
    expect(calls).toBe(1);
    expect(hb.stopped).toBe(true);
  });

  it('never beats more than maxBeats', async () => {
    const clock = new ManualClock();
    const out: string[] = [];
    const hb = startHeartbeat({
      clock,
      intervalMs: 10,
      maxBeats: 4,
      onBeat: (c) => void out.push(c),
    });
    await clock.advance(1_000);
    await hb.done;
    expect(out).toHaveLength(4);
  });

  it('stopping before the first interval emits nothing', async () => {
    const clock = new ManualClock();
    const out: string[] = [];
    const hb = startHeartbeat({ clock, intervalMs: 10, onBeat: (c) => void out.push(c) });
    hb.stop();
    await clock.advance(100);
    await hb.done;
    expect(out).toEqual([]);
    expect(hb.beats).toBe(0);
  });

  it('runs on one timer of the clock’s own (after), gone once stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const out: string[] = [];
      const hb = startHeartbeat({
        clock: systemClock,
        intervalMs: 1_000,
        onBeat: async (c) => void out.push(c),
      });
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(3_000);
      expect(out).toHaveLength(3);
      expect(vi.getTimerCount()).toBe(1);
      hb.stop();
      expect(vi.getTimerCount()).toBe(0);
      await hb.done;
      expect(hb.stopped).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
