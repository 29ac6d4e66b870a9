import { describe, expect, it } from 'vitest';
import { createInflightTracker } from './inflight.ts';

describe('createInflightTracker', () => {
  it('counts a promise until it settles, resolved or rejected', async () => {
    const inflight = createInflightTracker();
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const ok = new Promise<void>((r) => (resolve = r));
    const failed = new Promise<void>((_, r) => (reject = r));
    failed.catch(() => undefined);
    inflight.add(ok);
    inflight.add(failed);
    expect(inflight.size).toBe(2);
    resolve();
    reject(new Error('x'));
    await Promise.allSettled([ok, failed]);
    await Promise.resolve();
    expect(inflight.size).toBe(0);
  });

  it('drains what settles in time, and says so when something does not', async () => {
    const inflight = createInflightTracker();
    inflight.add(new Promise((r) => setTimeout(r, 5)));
    expect(await inflight.drain(1_000)).toBe(true);
    inflight.add(new Promise(() => undefined));
    expect(await inflight.drain(10)).toBe(false);
  });

  it('counts work begun until it ends, once however often it is ended, and drains on its end', async () => {
    const inflight = createInflightTracker();
    const end = inflight.begin();
    const other = inflight.begin();
    expect(inflight.size).toBe(2);
    end();
    end();
    expect(inflight.size).toBe(1);
    let drained: boolean | undefined;
    const draining = inflight.drain(10_000).then((d) => (drained = d));
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBeUndefined();
    other();
    // Woken by the end itself, not by its deadline.
    const late = new Promise<string>((r) => setTimeout(() => r('late'), 500));
    expect(await Promise.race([draining, late])).toBe(true);
    expect(inflight.size).toBe(0);
    inflight.begin();
    expect(await inflight.drain(10)).toBe(false);
  });
});
