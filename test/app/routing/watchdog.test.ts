/**
 * The watchdog on Node's own timers, faked (setTimeout and performance.now move together), so
 * that "not before the deadline" and "at the deadline" are exact rather than raced.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamError } from '../../../app/src/core/failure.ts';
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

  it('passes the caller’s abort on until finished, and leaves no timer once finished', () => {
    const outer = new AbortController();
    const dog = new Watchdog(outer.signal);
    const reason = new Error('client gone');
    outer.abort(reason);
    expect(dog.signal.reason).toBe(reason);
    expect(dog.timedOut).toBeUndefined();

    const later = new AbortController();
    const finished = new Watchdog(later.signal);
    idle(finished, 100);
    finished.finish();
    expect(vi.getTimerCount()).toBe(0);
    later.abort();
    vi.advanceTimersByTime(1_000);
    expect(finished.signal.aborted).toBe(false);
  });
});
