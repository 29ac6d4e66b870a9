import { describe, expect, it } from 'vitest';
import {
  BreakerRegistry,
  type BreakerOptions,
  type Permit,
} from '../../../app/src/routing/breaker.ts';
import { ManualClock } from '../../fixtures/manual-clock.ts';

const opts: Partial<BreakerOptions> = {
  windowMs: 10_000,
  minimumCalls: 10,
  failureRate: 0.5,
  consecutiveFailures: 3,
  connectFailures: 2,
  modelsToOpenChannel: 2,
  cooldownMs: 5_000,
  maxCooldownMs: 60_000,
  deadProbeIntervalMs: 120_000,
  probeLeaseMs: 30_000,
};
type Failure = Parameters<Permit['failure']>[0];
const e500: Failure = { kind: 'http-status', status: 500 };
const dropped: Failure = { kind: 'connect' };
const refused: Failure = { kind: 'connect' };

function permit(b: BreakerRegistry, channel: string, model?: string): Permit {
  const a = b.acquire(channel, model);
  if (!a.admitted) throw new Error(`expected ${channel}/${model} to be admitted`);
  return a.permit;
}

function fail(
  b: BreakerRegistry,
  channel: string,
  times: number,
  failure: Failure = e500,
  model?: string,
  committed = false,
): void {
  for (let i = 0; i < times; i++) permit(b, channel, model).failure(failure, committed);
}

function ok(b: BreakerRegistry, channel: string, times: number, model?: string): void {
  for (let i = 0; i < times; i++) permit(b, channel, model).success();
}

function stateOf(b: BreakerRegistry, channel: string, model: string | null = null) {
  return b.snapshot().find((s) => s.channel === channel && s.model === model);
}

const admitted = (b: BreakerRegistry, channel: string, model?: string) =>
  b.peek(channel, model).admitted;

describe('failure rate over a sliding window', () => {
  it('below the minimum volume, failures in a row open a circuit; a success in between starts over', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    fail(b, 'a', 2, e500, 'm');
    ok(b, 'a', 1, 'm');
    fail(b, 'a', 2, e500, 'm');
    expect(stateOf(b, 'a', 'm')).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    fail(b, 'a', 1, e500, 'm');
    expect(stateOf(b, 'a', 'm')).toMatchObject({ state: 'open', cause: 'failures' });
    expect(admitted(b, 'a', 'm')).toBe(false);
  });

  it('from the minimum volume on, the rate decides and a run of failures alone opens nothing', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    ok(b, 'a', 8, 'm');
    // 7 failures in a row, far past consecutiveFailures, but 7 of 15 calls is under 50 %.
    fail(b, 'a', 7, e500, 'm');
    expect(stateOf(b, 'a', 'm')).toMatchObject({
      state: 'closed',
      callsInWindow: 15,
      failuresInWindow: 7,
    });
    fail(b, 'a', 1, e500, 'm'); // 8 of 16
    expect(stateOf(b, 'a', 'm')?.state).toBe('open');
  });

  it('a high failure rate over fewer calls than the minimum volume is not judged as a rate', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    for (let i = 0; i < 4; i++) {
      fail(b, 'a', 1, e500, 'm');
      ok(b, 'a', 1, 'm');
    }
    fail(b, 'a', 1, e500, 'm'); // 5 of 9 failed, never 3 in a row
    expect(stateOf(b, 'a', 'm')).toMatchObject({ state: 'closed', failuresInWindow: 5 });
    fail(b, 'a', 1, e500, 'm'); // 10 calls, 6 failed: now the rate counts
    expect(stateOf(b, 'a', 'm')?.state).toBe('open');
  });

  it('a healthy channel at 1,000 requests a minute with 0.5 % errors never opens (defaults)', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock);
    let refusals = 0;
    // Three minutes: every 200th call fails, i.e. 5 failures in every minute.
    for (let i = 0; i < 3_000; i++) {
      const a = b.acquire('a', 'm');
      if (!a.admitted) refusals++;
      else if (i % 200 === 0) a.permit.failure(e500);
      else a.permit.success();
      await clock.advance(60);
    }
    expect(refusals).toBe(0);
    expect(b.snapshot().every((s) => s.state === 'closed')).toBe(true);
  });

  it('failures that slid out of the window count no more, neither in the rate nor in a row', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    ok(b, 'a', 8, 'm');
    fail(b, 'a', 7, e500, 'm');
    await clock.advance(10_001);
    fail(b, 'a', 2, e500, 'm');
    expect(stateOf(b, 'a', 'm')).toMatchObject({
      state: 'closed',
      callsInWindow: 2,
      failuresInWindow: 2,
      consecutiveFailures: 2,
    });
  });
});

describe('attribution of each failure kind, before content and after', () => {
  type Where = 'channel' | 'dead' | 'model' | 'not-served' | 'nothing';
  const cases: Array<[string, Failure, Where, Where]> = [
    ['connection refused, TLS or DNS', refused, 'channel', 'model'],
    ['connect timeout', { kind: 'timeout-connect' }, 'channel', 'channel'],
    ['connection dropped mid-response', { kind: 'connect', midResponse: true }, 'model', 'model'],
    ['connection reset before the response', { kind: 'connect', reached: true }, 'model', 'model'],
    ['HTTP 500', e500, 'model', 'model'],
    ['HTTP 429', { kind: 'http-status', status: 429 }, 'model', 'model'],
    ['first-byte timeout', { kind: 'timeout-first-byte' }, 'model', 'model'],
    ['idle timeout', { kind: 'timeout-idle' }, 'model', 'model'],
    ['malformed answer', { kind: 'malformed' }, 'model', 'model'],
    ['error inside the stream', { kind: 'stream-error' }, 'model', 'model'],
    ['model not served', { kind: 'model', status: 404 }, 'not-served', 'not-served'],
    ['key rejected', { kind: 'auth', status: 401 }, 'dead', 'dead'],
    ['account out of quota', { kind: 'insufficient-quota', status: 429 }, 'dead', 'dead'],
    ["the client's own mistake", { kind: 'http-status', status: 400 }, 'nothing', 'nothing'],
    ['the client left', { kind: 'aborted' }, 'nothing', 'nothing'],
  ];

  function where(b: BreakerRegistry): Where {
    const channel = stateOf(b, 'a');
    const model = stateOf(b, 'a', 'm');
    if (channel?.state === 'open') return channel.dead ? 'dead' : 'channel';
    if (model?.state === 'open') return model.cause === 'not-served' ? 'not-served' : 'model';
    return 'nothing';
  }

  it.each(cases)('%s', (_name, failure, before, after) => {
    for (const [committed, expected] of [
      [false, before],
      [true, after],
    ] as const) {
      const b = new BreakerRegistry(new ManualClock(), opts);
      for (let i = 0; i < 3; i++) {
        const a = b.acquire('a', 'm');
        if (a.admitted) a.permit.failure(failure, committed);
      }
      expect({ committed, opened: where(b) }).toEqual({ committed, opened: expected });
      // Whatever opened, another model on the channel is refused only when the channel is.
      const otherRefused = !admitted(b, 'a', 'other');
      expect(otherRefused).toBe(expected === 'channel' || expected === 'dead');
    }
  });

  it('a flaky model whose streams break after content never takes its channel down', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    for (let i = 0; i < 50; i++) {
      ok(b, 'a', 1, 'healthy');
      const flaky = b.acquire('a', 'flaky');
      if (flaky.admitted) flaky.permit.failure(dropped, true);
    }
    expect(stateOf(b, 'a', 'flaky')).toMatchObject({ state: 'open', cause: 'failures' });
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', failuresInWindow: 0 });
    expect(admitted(b, 'a', 'healthy')).toBe(true);
  });

  it('connection failures before any response open the channel at once, whatever the volume', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    ok(b, 'a', 100, 'm');
    fail(b, 'a', 1, refused, 'm');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    fail(b, 'a', 1, refused, 'm');
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', cause: 'connection' });
    expect(admitted(b, 'a', 'other')).toBe(false);
    // They say nothing about the model.
    expect(stateOf(b, 'a', 'm')).toBeUndefined();
  });

  it('a channel whose connections fail half the time opens on the rate', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    for (let i = 0; i < 5; i++) {
      fail(b, 'a', 1, refused, 'm');
      ok(b, 'a', 1, 'm');
    }
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', callsInWindow: 10 });
    fail(b, 'a', 1, refused, 'm'); // 6 of 11
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', cause: 'connection' });
  });
});

describe('across models', () => {
  it('a channel on which several models that worked there fail opens as a whole, naming them', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    ok(b, 'a', 1, 'x');
    ok(b, 'a', 1, 'y');
    fail(b, 'a', 3, e500, 'x');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    fail(b, 'a', 3, e500, 'y');
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', cause: 'models', models: ['x', 'y'] });
    expect(admitted(b, 'a', 'z')).toBe(false);
    expect(b.standing('a', 'z')).toMatchObject({ by: 'channel', otherModelsOnly: true });
    expect(b.standing('a', 'x')).toMatchObject({ by: 'model' });
  });

  it('a model circuit left half-open long ago neither opens the channel nor stays half-open', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'old'); // opens; nobody asks for it again
    await clock.advance(3_600_000);
    expect(stateOf(b, 'a', 'old')).toBeUndefined(); // closed and clean again
    ok(b, 'a', 5, 'healthy');
    fail(b, 'a', 3, e500, 'blip');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    expect(admitted(b, 'a', 'healthy')).toBe(true);
  });

  it('only circuits cooling down or opened within the window count towards opening the channel', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2, e500, 'slow');
    // Retry-After kept it cooling for 20 s; half-open since 5 s, opened 25 s ago.
    permit(b, 'a', 'slow').failure({ kind: 'http-status', status: 429, retryAfterMs: 20_000 });
    await clock.advance(25_000);
    expect(stateOf(b, 'a', 'slow')).toMatchObject({ state: 'half-open', tripped: false });
    fail(b, 'a', 3, e500, 'blip');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    // Opened within the window, half-open or not, it does count.
    const fresh = new BreakerRegistry(clock, opts);
    ok(fresh, 'a', 1, 'x');
    ok(fresh, 'a', 1, 'y');
    fail(fresh, 'a', 3, e500, 'x');
    await clock.advance(6_000);
    expect(stateOf(fresh, 'a', 'x')).toMatchObject({ state: 'half-open', tripped: true });
    fail(fresh, 'a', 3, e500, 'y');
    expect(stateOf(fresh, 'a')).toMatchObject({
      state: 'open',
      cause: 'models',
      models: ['x', 'y'],
    });
  });

  it('names that never got an answer on the channel never open it, whatever the upstream says', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    // A pattern channel: clients make names up, and this upstream answers them with 500s.
    for (const m of ['made-up-1', 'made-up-2', 'made-up-3']) fail(b, 'a', 3, e500, m);
    expect(stateOf(b, 'a', 'made-up-3')?.state).toBe('open');
    expect(stateOf(b, 'a')?.state).toBe('closed');
    expect(admitted(b, 'a', 'real')).toBe(true);
    // A model that streamed content once counts, even if that stream broke.
    const streamed = permit(b, 'a', 'real');
    streamed.answered();
    streamed.failure(dropped, true);
    fail(b, 'a', 2, e500, 'real');
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed' });
    ok(b, 'a', 1, 'other');
    fail(b, 'a', 3, e500, 'other');
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', models: ['real', 'other'] });
  });

  it('models the channel does not serve never open the channel (clients choose model names)', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    for (const m of ['no-1', 'no-2', 'no-3']) fail(b, 'a', 3, { kind: 'model', status: 404 }, m);
    expect(stateOf(b, 'a')?.state).toBe('closed');
    expect(admitted(b, 'a', 'real')).toBe(true);
  });

  it('keeps at most maxModelCircuits channel+model circuits, dropping idle closed ones first', () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, { ...opts, maxModelCircuits: 20 });
    fail(b, 'a', 3, e500, 'broken');
    for (let i = 0; i < 500; i++) fail(b, 'a', 1, { kind: 'model', status: 404 }, `junk-${i}`);
    const models = b.snapshot().filter((s) => s.model !== null);
    expect(models.length).toBeLessThanOrEqual(20);
    expect(stateOf(b, 'a', 'broken')?.state).toBe('open');
  });
});

describe('probes', () => {
  it('half-opens after the cooldown and admits exactly one probe', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    expect(b.acquire('a', 'm')).toEqual({
      admitted: false,
      state: 'open',
      dead: false,
      retryAt: clock.now() + 5_000,
      refused: 'model',
    });
    await clock.advance(4_999);
    expect(admitted(b, 'a', 'm')).toBe(false);
    await clock.advance(1);
    expect(stateOf(b, 'a', 'm')?.state).toBe('half-open');
    const probe = permit(b, 'a', 'm');
    expect(probe.probe).toBe(true);
    expect(b.acquire('a', 'm').admitted).toBe(false);
    expect(stateOf(b, 'a', 'm')?.probeInFlight).toBe(true);
    probe.success();
    expect(stateOf(b, 'a', 'm')).toBeUndefined(); // closed and clean: not worth showing
    expect(permit(b, 'a', 'm').probe).toBe(false);
  });

  it('a probe passes at its first content: the circuit closes while the answer still streams', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    fail(b, 'c', 2, refused, 'm');
    await clock.advance(5_000);
    const probe = permit(b, 'a', 'm');
    const channelProbe = permit(b, 'c', 'm');
    expect([probe.probe, channelProbe.probe]).toEqual([true, true]);
    probe.answered();
    channelProbe.answered();
    expect(stateOf(b, 'a', 'm')).toBeUndefined(); // closed and clean
    expect(stateOf(b, 'c')?.state).toBe('closed');
    expect(permit(b, 'a', 'm').probe).toBe(false);
    expect(permit(b, 'c', 'other').probe).toBe(false);
    // The stream breaks later: an ordinary failure of the model, not a failed probe.
    probe.failure(dropped, true);
    expect(stateOf(b, 'a', 'm')).toMatchObject({ state: 'closed', failuresInWindow: 1 });
    channelProbe.success();
    expect(stateOf(b, 'c')).toMatchObject({ state: 'closed', failuresInWindow: 0 });
  });

  it('re-opens with a fresh cooldown when the probe fails', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    await clock.advance(5_000);
    permit(b, 'a', 'm').failure(e500);
    expect(stateOf(b, 'a', 'm')).toMatchObject({
      state: 'open',
      openedAt: clock.now(),
      retryAt: clock.now() + 5_000,
    });
    await clock.advance(5_000);
    expect(permit(b, 'a', 'm').probe).toBe(true);
  });

  it('uses Retry-After as the cooldown, capped', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2, e500, 'm');
    permit(b, 'a', 'm').failure({ kind: 'http-status', status: 429, retryAfterMs: 20_000 });
    expect(stateOf(b, 'a', 'm')?.retryAt).toBe(clock.now() + 20_000);
    await clock.advance(20_000);
    permit(b, 'a', 'm').failure({ kind: 'http-status', status: 429, retryAfterMs: 999_999 });
    expect(stateOf(b, 'a', 'm')?.retryAt).toBe(clock.now() + 60_000);
  });

  it('an aborted probe hands the slot back without judging the channel', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    await clock.advance(5_000);
    permit(b, 'a', 'm').failure({ kind: 'aborted' });
    const again = permit(b, 'a', 'm');
    expect(again.probe).toBe(true);
    again.release();
    expect(stateOf(b, 'a', 'm')).toMatchObject({
      state: 'half-open',
      probeInFlight: false,
      lastFailure: { kind: 'http-status' },
    });
  });

  it('a probe that never reports frees its slot after the lease', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    await clock.advance(5_000);
    permit(b, 'a', 'm'); // leaked
    expect(admitted(b, 'a', 'm')).toBe(false);
    await clock.advance(30_000);
    expect(permit(b, 'a', 'm').probe).toBe(true);
  });

  it("a probe that ends after its lease leaves the next probe's slot alone", async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 3, e500, 'm');
    fail(b, 'c', 2, refused, 'm');
    await clock.advance(5_000);
    const first = permit(b, 'a', 'm');
    const firstOfChannel = permit(b, 'c', 'm');
    await clock.advance(30_000); // both leases over, both still running
    const second = permit(b, 'a', 'm');
    const secondOfChannel = permit(b, 'c', 'm');
    expect([second.probe, secondOfChannel.probe]).toEqual([true, true]);
    first.release();
    firstOfChannel.failure({ kind: 'aborted' });
    // The second probes are still in flight: nobody else gets in.
    expect(b.acquire('a', 'm').admitted).toBe(false);
    expect(b.acquire('c', 'm').admitted).toBe(false);
    expect(stateOf(b, 'a', 'm')?.probeInFlight).toBe(true);
  });

  it('a client error answer is a healthy channel: it does not count and closes a probe', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 5, { kind: 'http-status', status: 400 }, 'm');
    expect(stateOf(b, 'a', 'm')).toBeUndefined();
    fail(b, 'a', 3, e500, 'm');
    await clock.advance(5_000);
    permit(b, 'a', 'm').failure({ kind: 'http-status', status: 400 });
    expect(stateOf(b, 'a', 'm')).toBeUndefined();
  });

  it('a probe that gets an answer closes a channel opened by connection failures, even if the model then fails', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2, refused, 'm');
    await clock.advance(5_000);
    const probe = permit(b, 'a', 'm');
    expect(probe.probe).toBe(true);
    probe.failure(dropped, true);
    expect(stateOf(b, 'a')?.state).toBe('closed');
    expect(stateOf(b, 'a', 'm')).toMatchObject({ state: 'closed', failuresInWindow: 1 });
  });

  it('401/403/no quota kill the key at once; it is probed on the dead interval until a probe succeeds', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    permit(b, 'a', 'm').failure({ kind: 'auth', status: 401 });
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      dead: true,
      cause: 'dead',
      retryAt: clock.now() + 120_000,
    });
    await clock.advance(119_999);
    expect(admitted(b, 'a', 'other')).toBe(false);
    await clock.advance(1);
    const probe = permit(b, 'a', 'm');
    expect(probe.probe).toBe(true);
    // A probe failing for another reason keeps the key dead (only success revives it).
    probe.failure(e500);
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      dead: true,
      retryAt: clock.now() + 120_000,
    });
    await clock.advance(120_000);
    permit(b, 'a', 'm').success();
    expect(stateOf(b, 'a')).toMatchObject({ state: 'closed', dead: false });
    permit(b, 'b').failure({ kind: 'insufficient-quota', status: 429 });
    expect(stateOf(b, 'b')).toMatchObject({
      dead: true,
      lastFailure: { kind: 'insufficient-quota', status: 429 },
    });
  });

  it('without a model, every failure the channel is blamed for counts on the channel', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    fail(b, 'a', 3, e500);
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', cause: 'failures' });
  });

  it('settles a permit once', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    const p = permit(b, 'a', 'm');
    p.failure(e500);
    p.failure(e500);
    p.success();
    expect(stateOf(b, 'a', 'm')).toMatchObject({ callsInWindow: 1, failuresInWindow: 1 });
  });
});

describe('panic admission', () => {
  it('passes an open channel circuit, never the model’s own', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    fail(b, 'a', 2, refused, 'm');
    expect(b.acquire('a', 'm').admitted).toBe(false);
    const p = b.acquire('a', 'm', { panic: true });
    expect(p.admitted && p.permit.panic).toBe(true);
    if (p.admitted) p.permit.success();
    // The panic request was the channel's probe in all but name: it answered, the channel closes.
    expect(stateOf(b, 'a')?.state).toBe('closed');

    fail(b, 'a', 3, e500, 'm');
    expect(b.acquire('a', 'm', { panic: true }).admitted).toBe(false);
  });

  it('a panic request that fails to connect re-opens the channel with a fresh cooldown', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2, refused, 'm');
    await clock.advance(1_000);
    const p = b.acquire('a', 'm', { panic: true });
    if (p.admitted) p.permit.failure(refused);
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', retryAt: clock.now() + 5_000 });
  });

  it('takes one panic request at a time per channel; a refused one is told when to come back', async () => {
    const clock = new ManualClock();
    const b = new BreakerRegistry(clock, opts);
    fail(b, 'a', 2, refused, 'm');
    const first = b.acquire('a', 'm', { panic: true });
    expect(first.admitted && first.permit.singleTry).toBe(true);
    expect(b.standing('a', 'm')).toMatchObject({
      by: 'channel',
      panicBusyUntil: clock.now() + 5_000,
    });
    expect(b.acquire('a', 'other', { panic: true })).toMatchObject({
      admitted: false,
      refused: 'channel',
      retryAt: clock.now() + 5_000,
    });
    await clock.advance(1_000);
    if (first.admitted) first.permit.failure(refused);
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      cause: 'connection',
      probeInFlight: false,
    });
    expect(b.acquire('a', 'm', { panic: true }).admitted).toBe(true);
  });

  it('a connection failure while passing a channel opened by other models makes it a connection outage', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    ok(b, 'a', 1, 'x');
    ok(b, 'a', 1, 'y');
    fail(b, 'a', 3, e500, 'x');
    fail(b, 'a', 3, e500, 'y');
    const pass = b.acquire('a', 'z', { panic: true });
    expect(pass.admitted && pass.permit.singleTry).toBe(false);
    if (pass.admitted) pass.permit.failure(refused);
    expect(stateOf(b, 'a')).toMatchObject({
      state: 'open',
      cause: 'connection',
      lastFailure: { kind: 'connect' },
    });
    expect(b.standing('a', 'z')).toMatchObject({ by: 'channel', otherModelsOnly: false });
  });

  it('a channel opened by other models is passed untouched: this model’s outcome says nothing about them', () => {
    const b = new BreakerRegistry(new ManualClock(), opts);
    ok(b, 'a', 1, 'x');
    ok(b, 'a', 1, 'y');
    fail(b, 'a', 3, e500, 'x');
    fail(b, 'a', 3, e500, 'y');
    const p = b.acquire('a', 'z', { panic: true });
    expect(p.admitted).toBe(true);
    if (p.admitted) p.permit.success();
    expect(stateOf(b, 'a')).toMatchObject({ state: 'open', cause: 'models' });
  });
});

describe('snapshots', () => {
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
        cause: 'dead',
        callsInWindow: 0,
        failuresInWindow: 0,
        consecutiveFailures: 0,
        openedAt: clock.now(),
        retryAt: clock.now() + 120_000,
        probeInFlight: false,
        tripped: true,
        lastFailure: { kind: 'auth', status: 401, at: clock.now() },
      },
    ]);
    expect(JSON.stringify(snap)).not.toContain('sk-secret');
  });
});
