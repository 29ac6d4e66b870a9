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
});
