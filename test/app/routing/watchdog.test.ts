/**
 * The watchdog on Node's own timers, faked (setTimeout and performance.now move together), so
 * that "not before the deadline" and "at the deadline" are exact rather than raced.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamError } from '../../../app/src/core/failure.ts';
import { Cancel } from '../../../app/src/routing/cancel.ts';
import { Watchdog } from '../../../app/src/routing/watchdog.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const idle = (dog: Watchdog, ms: number) =>
  dog.arm('timeout-idle', ms, 'upstream went silent mid-response');

describe('Watchdog', () => {
  it('fires the armed limit with its own failure', () => {
    const dog = new Watchdog(undefined);
    idle(dog, 100);
    vi.advanceTimersByTime(99);
    expect(dog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(dog.signal.aborted).toBe(true);
    expect(dog.timedOut).toEqual({
      kind: 'timeout-idle',
      message: 'upstream went silent mid-response',
    });
    expect(dog.signal.reason).toBeInstanceOf(UpstreamError);
  });

  it('counts from the last arm: a stream whose chunks keep coming never times out', () => {
    const dog = new Watchdog(undefined);
    for (let chunk = 0; chunk < 50; chunk++) {
      idle(dog, 100);
      vi.advanceTimersByTime(60);
      dog.disarm();
    }
    expect(dog.signal.aborted).toBe(false);
    // One timer at a time, however many chunks.
    expect(vi.getTimerCount()).toBe(1);
    idle(dog, 100);
    vi.advanceTimersByTime(99);
    expect(dog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(dog.timedOut?.kind).toBe('timeout-idle');
  });

  it('fires a shorter limit armed after a longer one at its own time', () => {
    const dog = new Watchdog(undefined);
    dog.arm('timeout-first-byte', 10_000, 'upstream sent no response headers in time');
    vi.advanceTimersByTime(50);
    dog.disarm();
    idle(dog, 100);
    vi.advanceTimersByTime(100);
    expect(dog.timedOut?.kind).toBe('timeout-idle');
  });

  it('never fires while disarmed, and arms again after a disarmed timer has run out', () => {
    const dog = new Watchdog(undefined);
    idle(dog, 100);
    dog.disarm();
    vi.advanceTimersByTime(1_000);
    expect(dog.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    idle(dog, 100);
    vi.advanceTimersByTime(100);
    expect(dog.signal.aborted).toBe(true);
  });

  const sources = {
    'an AbortSignal': () => {
      const c = new AbortController();
      return { source: c.signal, abort: (r?: unknown) => c.abort(r) };
    },
    'the relay’s Cancel': () => {
      const c = new Cancel();
      return { source: c, abort: (r?: unknown) => c.abort(r) };
    },
  };
  it.each(Object.entries(sources))(
    'passes the caller’s abort (%s) on until finished, and leaves no timer once finished',
    (_name, make) => {
      const outer = make();
      const dog = new Watchdog(outer.source);
      const reason = new Error('client gone');
      outer.abort(reason);
      expect(dog.signal.reason).toBe(reason);
      expect(dog.timedOut).toBeUndefined();

      const later = make();
      const finished = new Watchdog(later.source);
      idle(finished, 100);
      finished.finish();
      expect(vi.getTimerCount()).toBe(0);
      later.abort();
      vi.advanceTimersByTime(1_000);
      expect(finished.signal.aborted).toBe(false);
    },
  );
});
