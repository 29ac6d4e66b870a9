import { describe, expect, it } from 'vitest';
import { BreakerRegistry, type Permit } from '../../../app/src/routing/breaker.ts';
import { ManualClock } from '../../fixtures/manual-clock.ts';

const opts = {
  failureThreshold: 3,
  windowMs: 10_000,
  cooldownMs: 5_000,
  maxCooldownMs: 60_000,
  deadProbeIntervalMs: 120_000,
  probeLeaseMs: 30_000,
};
const e500 = { kind: 'http-status', status: 500 } as const;

function permit(b: BreakerRegistry, channel: string, model?: string): Permit {
  const a = b.acquire(channel, model);
  if (!a.admitted) throw new Error(`expected ${channel} to be admitted`);
  return a.permit;
}

function fail(
  b: BreakerRegistry,
  channel: string,
  times: number,
  failure: Parameters<Permit['failure']>[0] = e500,
): void {
  for (let i = 0; i < times; i++) permit(b, channel).failure(failure);
}

function stateOf(b: BreakerRegistry, channel: string, model: string | null = null) {
  return b.snapshot().find((s) => s.channel === channel && s.model === model);
}

describe('BreakerRegistry', () => {
  it('opens after N failures inside the window, not before', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2);
    expect(b.acquire('a').admitted).toBe(true);
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', failuresInWindow: 2 });
    fail(b, 'a', 1);
    const refused = b.acquire('a');
    expect(refused).toEqual({
      admitted: false,
      state: 'open',
      dead: false,
      retryAt: clock.now() + 5_000,
    });
    expect(b.peek('a')).toEqual({ admitted: false, retryAt: clock.now() + 5_000 });
  });

  it('forgets failures that slid out of the window', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2);
    await clock.advance(10_001);
    fail(b, 'a', 2);
    expect(b.acquire('a').admitted).toBe(true);
    expect(stateOf(b, 'a')?.failuresInWindow).toBe(2);
  });

  it('half-opens after the cooldown and admits exactly one probe', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3);
    await clock.advance(4_999);
    expect(b.acquire('a').admitted).toBe(false);
    await clock.advance(1);
    expect(stateOf(b, 'a')?.state).toBe('half-open');
    const probe = permit(b, 'a');
    expect(probe.probe).toBe(true);
    // Concurrent requests while the probe is out are refused.
    expect(b.acquire('a').admitted).toBe(false);
    expect(b.acquire('a').admitted).toBe(false);
    expect(stateOf(b, 'a')?.probeInFlight).toBe(true);
    probe.success();
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', failuresInWindow: 0, openedAt: null });
    const next = permit(b, 'a');
    expect(next.probe).toBe(false);
  });

  it('re-opens with a fresh cooldown when the probe fails', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3);
    await clock.advance(5_000);
    permit(b, 'a').failure(e500);
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      openedAt: clock.now(),
      retryAt: clock.now() + 5_000,
    });
    await clock.advance(5_000);
    expect(permit(b, 'a').probe).toBe(true);
  });

  it('uses Retry-After as the cooldown, capped', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2);
    permit(b, 'a').failure({ kind: 'http-status', status: 429, retryAfterMs: 20_000 });
    expect(stateOf(b, 'a')?.retryAt).toBe(clock.now() + 20_000);
    await clock.advance(20_000);
    permit(b, 'a').failure({ kind: 'http-status', status: 429, retryAfterMs: 999_999 });
    expect(stateOf(b, 'a')?.retryAt).toBe(clock.now() + 60_000);
  });

  it('an aborted probe hands the slot back without judging the channel', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3);
    await clock.advance(5_000);
    permit(b, 'a').failure({ kind: 'aborted' });
    const again = permit(b, 'a');
    expect(again.probe).toBe(true);
    again.release();
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'half-open',
      probeInFlight: false,
      lastFailure: { kind: 'http-status' },
    });
  });

  it('a probe that never reports frees its slot after the lease', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3);
    await clock.advance(5_000);
    permit(b, 'a'); // leaked
    expect(b.acquire('a').admitted).toBe(false);
    await clock.advance(30_000);
    expect(permit(b, 'a').probe).toBe(true);
  });

  it('a client error answer is a healthy channel: it does not count and closes a probe', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 5, { kind: 'http-status', status: 400 });
    expect(stateOf(b, 'a')?.failuresInWindow).toBe(0);
    fail(b, 'a', 3);
    await clock.advance(5_000);
    permit(b, 'a').failure({ kind: 'http-status', status: 400 });
    expect(stateOf(b, 'a')?.state).toBe('closed');
  });

  it('401/403/no quota kill the key at once; it is probed on the dead interval until a probe succeeds', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    permit(b, 'a').failure({ kind: 'auth', status: 401 });
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      dead: true,
      retryAt: clock.now() + 120_000,
    });
    await clock.advance(119_999);
    expect(b.acquire('a').admitted).toBe(false);
    await clock.advance(1);
    const probe = permit(b, 'a');
    expect(probe.probe).toBe(true);
    // A probe failing for another reason keeps the key dead (only success revives it).
    probe.failure(e500);
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      dead: true,
      retryAt: clock.now() + 120_000,
    });
    await clock.advance(120_000);
    permit(b, 'a').success();
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', dead: false });
    permit(b, 'b').failure({ kind: 'insufficient-quota', status: 429 });
    expect(stateOf(b, 'b')).toMatchObject({
      dead: true,
      lastFailure: { kind: 'insufficient-quota', status: 429 },
    });
  });

  it('model failures open only the channel+model circuit', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    for (let i = 0; i < 3; i++) permit(b, 'a', 'gpt-x').failure({ kind: 'model', status: 404 });
    expect(b.acquire('a', 'gpt-x').admitted).toBe(false);
    expect(b.acquire('a', 'gpt-y').admitted).toBe(true);
    expect(b.acquire('a').admitted).toBe(true);
    expect(stateOf(b, 'a', 'gpt-x')?.state).toBe('open');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    // A channel-wide outage also blocks the model.
    fail(b, 'a', 3);
    expect(b.acquire('a', 'gpt-y').admitted).toBe(false);
  });

  it('settles a permit once', () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    const p = permit(b, 'a');
    p.failure(e500);
    p.failure(e500);
    p.success();
    expect(stateOf(b, 'a')?.failuresInWindow).toBe(1);
  });

  it('snapshots carry kinds and times, never upstream messages', () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    const failure = {
      kind: 'auth',
      status: 401,
      message: 'Incorrect API key provided: sk-secret-123',
    } as const;
    permit(b, 'a').failure(failure);
    const snap = b.snapshot();
    expect(snap).toEqual([
      {
        channel: 'a',
        model: null,
        state: 'open',
        dead: true,
        failuresInWindow: 0,
        openedAt: clock.now(),
        retryAt: clock.now() + 120_000,
        probeInFlight: false,
        lastFailure: { kind: 'auth', status: 401, at: clock.now() },
      },
    ]);
    expect(JSON.stringify(snap)).not.toContain('sk-secret');
  });
});
