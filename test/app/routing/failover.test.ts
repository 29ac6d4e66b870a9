import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../../app/src/routing/breaker.ts';
import {
  runWithFailover,
  type AttemptContext,
  type AttemptResult,
  type FailoverEvent,
  type FailoverOptions,
} from '../../../app/src/routing/failover.ts';
import { UpstreamError, type UpstreamFailure } from '../../../app/src/core/failure.ts';
import { ManualClock } from '../../fixtures/manual-clock.ts';
import { seededRandom } from '../../fixtures/seeded-random.ts';

interface Ch {
  name: string;
  priority?: number;
  weight?: number;
}

type Script = Record<
  string,
  Array<
    UpstreamFailure | 'ok' | 'throw' | ((ctx: AttemptContext) => Promise<AttemptResult<string>>)
  >
>;

/** A scripted upstream per channel: each call takes the next outcome. */
function scripted(script: Script) {
  const calls: string[] = [];
  const attempt = async (ch: Ch, ctx: AttemptContext): Promise<AttemptResult<string>> => {
    calls.push(ch.name);
    const next = script[ch.name]?.shift() ?? 'ok';
    if (next === 'ok') return { ok: true, value: `from ${ch.name}` };
    if (next === 'throw') throw new Error('bug in attempt');
    if (typeof next === 'function') return next(ctx);
    return { ok: false, failure: next };
  };
  return { calls, attempt };
}

const s500: UpstreamFailure = { kind: 'http-status', status: 500, message: 'upstream 500' };
const s400: UpstreamFailure = { kind: 'http-status', status: 400, message: 'upstream 400' };

function setup(script: Script, over: Partial<FailoverOptions<Ch, string>> = {}) {
  const clock = new ManualClock();
  const breaker = new BreakerRegistry(clock, { consecutiveFailures: 3, cooldownMs: 10_000 });
  const events: FailoverEvent[] = [];
  const { calls, attempt } = scripted(script);
  const options: FailoverOptions<Ch, string> = {
    candidates: [{ name: 'a' }, { name: 'b', priority: 1 }, { name: 'c', priority: 2 }],
    attempt,
    maxAttemptsPerChannel: 2,
    maxTotalMs: 60_000,
    clock,
    breaker,
    backoff: { baseMs: 100, capMs: 1_000 },
    random: seededRandom(3),
    onAttempt: (e) => void events.push(e),
    ...over,
  };
  return { clock, breaker, events, calls, run: () => runWithFailover(options) };
}

describe('runWithFailover', () => {
  it('retries a retryable failure on the same channel after a jittered backoff', async () => {
    const t = setup({ a: [s500, 'ok'] });
    const running = t.run();
    await t.clock.waitForSleepers(2); // budget timer + backoff
    const backoff = t.clock.pending()[0] as number;
    expect(backoff).toBeGreaterThanOrEqual(0);
    expect(backoff).toBeLessThan(100);
    await t.clock.advance(backoff);
    const result = await running;
    expect(result).toMatchObject({ ok: true, value: 'from a', channel: { name: 'a' } });
    expect(t.calls).toEqual(['a', 'a']);
    expect(t.events.map((e) => e.type)).toEqual(['attempt', 'failure', 'attempt', 'success']);
  });

  it('fails over after the per-channel attempts are spent, never returning to a channel', async () => {
    const t = setup(
      { a: [s500, s500], b: [s500, s500], c: ['ok'] },
      { backoff: { baseMs: 0, capMs: 0 } },
    );
    const result = await t.run();
    expect(result.ok).toBe(true);
    expect(t.calls).toEqual(['a', 'a', 'b', 'b', 'c']);
    expect(result.attempts.map((a) => [a.channel, a.channelAttempt, a.ok])).toEqual([
      ['a', 1, false],
      ['a', 2, false],
      ['b', 1, false],
      ['b', 2, false],
      ['c', 1, true],
    ]);
  });

  it('passes a 400 straight back without retry or failover', async () => {
    const t = setup({ a: [s400] });
    const result = await t.run();
    expect(result).toMatchObject({ ok: false, reason: 'client-error', failure: { status: 400 } });
    expect(t.calls).toEqual(['a']);
    expect(t.breaker.snapshot()[0]?.failuresInWindow).toBe(0);
  });

  it('fails over at once on timeouts, auth and model errors', async () => {
    const t = setup({
      a: [{ kind: 'timeout-first-byte', message: 't' }],
      b: [{ kind: 'auth', status: 401, message: 'k' }],
      c: [{ kind: 'model', status: 404, message: 'm' }],
    });
    const result = await t.run();
    expect(result).toMatchObject({ ok: false, reason: 'exhausted', failure: { kind: 'model' } });
    expect(t.calls).toEqual(['a', 'b', 'c']);
    expect(t.breaker.snapshot().find((s) => s.channel === 'b')?.dead).toBe(true);
  });

  it('waits exactly Retry-After, and fails over when it exceeds the cap', async () => {
    const t = setup(
      { a: [{ ...s500, status: 429, retryAfterMs: 2_000 }, 'ok'] },
      { retryAfterCapMs: 5_000 },
    );
    const running = t.run();
    await t.clock.waitForSleepers(2);
    expect(t.clock.pending()).toEqual([2_000, 60_000]);
    await t.clock.advance(1_999);
    expect(t.calls).toEqual(['a']);
    await t.clock.advance(1);
    expect((await running).ok).toBe(true);
    expect(t.calls).toEqual(['a', 'a']);

    const long = setup(
      { a: [{ ...s500, status: 429, retryAfterMs: 30_000 }] },
      { retryAfterCapMs: 5_000 },
    );
    expect((await long.run()).ok).toBe(true);
    expect(long.calls).toEqual(['a', 'b']);
  });

  it('skips channels whose breaker refuses, and reports when none is left', async () => {
    const t = setup({});
    for (let i = 0; i < 3; i++) {
      const adm = t.breaker.acquire('a');
      if (adm.admitted) adm.permit.failure(s500);
    }
    const result = await t.run();
    expect(t.calls).toEqual(['b']);
    expect(result.ok).toBe(true);

    const none = setup({}, { candidates: [{ name: 'a' }] });
    for (let i = 0; i < 3; i++) {
      const adm = none.breaker.acquire('a');
      if (adm.admitted) adm.permit.failure(s500);
    }
    await none.clock.advance(4_000);
    expect(await none.run()).toMatchObject({
      ok: false,
      reason: 'no-channel',
      retryAfterMs: 6_000,
    });
    expect(none.calls).toEqual([]);
  });

  it('stops the retry loop on a client abort during backoff, without blaming the channel', async () => {
    const client = new AbortController();
    const t = setup(
      { a: [s500, 'ok'] },
      { signal: client.signal, backoff: { baseMs: 1_000, capMs: 1_000 }, random: () => 0.5 },
    );
    const running = t.run();
    await t.clock.waitForSleepers(2);
    client.abort();
    const result = await running;
    expect(result).toMatchObject({ ok: false, reason: 'aborted' });
    expect(t.calls).toEqual(['a']);
    expect(t.clock.pending()).toEqual([]);
  });

  it('does not count an attempt that failed because the client left', async () => {
    const client = new AbortController();
    const t = setup(
      {
        a: [
          async () => {
            client.abort();
            return { ok: false, failure: { kind: 'connect', message: 'socket closed' } };
          },
        ],
      },
      { signal: client.signal },
    );
    expect(await t.run()).toMatchObject({
      ok: false,
      reason: 'aborted',
      failure: { kind: 'aborted' },
    });
    expect(t.breaker.snapshot()[0]).toMatchObject({ failuresInWindow: 0, lastFailure: null });
  });

  it('after commit a failure ends the run: no failover, breaker told', async () => {
    const t = setup({
      a: [
        async (ctx) => {
          ctx.commit();
          expect(ctx.remainingMs()).toBe(Infinity);
          return { ok: false, failure: { kind: 'timeout-idle', message: 'silent' } };
        },
      ],
    });
    const result = await t.run();
    expect(result).toMatchObject({
      ok: false,
      reason: 'committed',
      committed: true,
      failure: { kind: 'timeout-idle' },
    });
    expect(t.calls).toEqual(['a']);
    expect(t.breaker.snapshot()[0]?.failuresInWindow).toBe(1);
  });

  it('the time budget aborts an attempt before commit, but not after', async () => {
    const hang = (ctx: AttemptContext): Promise<AttemptResult<string>> =>
      new Promise((_, reject) =>
        ctx.signal.onAbort(() =>
          reject(new UpstreamError({ kind: 'aborted', message: 'aborted' })),
        ),
      );
    const t = setup({ a: [hang] }, { maxTotalMs: 5_000 });
    const running = t.run();
    await t.clock.waitForSleepers(1);
    await t.clock.advance(5_000);
    expect(await running).toMatchObject({ ok: false, reason: 'budget' });
    expect(t.breaker.snapshot()[0]?.failuresInWindow).toBe(0);

    let release: (() => void) | undefined;
    const long = setup(
      {
        a: [
          async (ctx) => {
            ctx.commit();
            await new Promise<void>((r) => (release = r));
            return { ok: !ctx.signal.aborted, value: 'streamed' } as AttemptResult<string>;
          },
        ],
      },
      { maxTotalMs: 5_000 },
    );
    const streaming = long.run();
    await long.clock.advance(60_000);
    release?.();
    expect(await streaming).toMatchObject({ ok: true, value: 'streamed', committed: true });
  });

  it('does not retry on the same channel when the backoff would overrun the budget', async () => {
    const t = setup(
      { a: [s500], b: ['ok'] },
      { maxTotalMs: 500, backoff: { baseMs: 10_000, capMs: 10_000 }, random: () => 0.9 },
    );
    expect((await t.run()).ok).toBe(true);
    expect(t.calls).toEqual(['a', 'b']);
  });

  it('maps a thrown UpstreamError to a failure and lets other throws through', async () => {
    const t = setup({
      a: [
        async () => {
          throw new UpstreamError({ kind: 'timeout-first-byte', message: 'slow' });
        },
      ],
    });
    expect((await t.run()).ok).toBe(true);
    expect(t.calls).toEqual(['a', 'b']);

    const bug = setup({ a: ['throw'] });
    await expect(bug.run()).rejects.toThrow('bug in attempt');
    // The permit was released: the channel is still admitted and unblamed.
    expect(bug.breaker.peek('a').admitted).toBe(true);
    expect(bug.breaker.snapshot()[0]?.failuresInWindow).toBe(0);
  });

  it('a probe passes at its commit: other requests get in while it still streams', async () => {
    let release: (() => void) | undefined;
    const t = setup({
      a: [
        async (ctx) => {
          ctx.commit();
          await new Promise<void>((r) => (release = r));
          return { ok: true, value: 'streamed' };
        },
      ],
    });
    for (let i = 0; i < 3; i++) {
      const adm = t.breaker.acquire('a');
      if (adm.admitted) adm.permit.failure(s500);
    }
    await t.clock.advance(10_000);
    const probe = t.run();
    await new Promise((r) => setImmediate(r));
    expect(release).toBeDefined();
    expect(t.breaker.peek('a').admitted).toBe(true);
    release?.();
    expect(await probe).toMatchObject({ ok: true, attempts: [{ probe: true }] });
  });

  it('a half-open probe that succeeds closes the circuit', async () => {
    const t = setup({ a: ['ok'] });
    for (let i = 0; i < 3; i++) {
      const adm = t.breaker.acquire('a');
      if (adm.admitted) adm.permit.failure(s500);
    }
    await t.clock.advance(10_000);
    const result = await t.run();
    expect(result.ok && result.attempts[0]?.probe).toBe(true);
    expect(t.breaker.snapshot()[0]?.state).toBe('closed');
  });
});

describe('panic routing', () => {
  const refused: UpstreamFailure = { kind: 'connect', message: 'ECONNREFUSED' };
  function failOn(t: ReturnType<typeof setup>, channel: string, model: string, f: UpstreamFailure) {
    for (let i = 0; i < 3; i++) {
      const adm = t.breaker.acquire(channel, model);
      if (adm.admitted) adm.permit.failure(f);
    }
  }

  it('when every channel is open from connection failures, the least recently failed one is tried anyway', async () => {
    const t = setup({}, { model: 'm' });
    for (const name of ['b', 'a', 'c']) {
      failOn(t, name, 'm', refused);
      await t.clock.advance(1_000);
    }
    expect(t.breaker.peek('a', 'm').admitted).toBe(false);
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'b' } });
    expect(t.calls).toEqual(['b']);
    expect(result.attempts[0]).toMatchObject({ channel: 'b', panic: true });
    // It answered: b is closed again, the others stay open until their own probes.
    expect(t.breaker.peek('b', 'm').admitted).toBe(true);
    expect(t.breaker.peek('a', 'm').admitted).toBe(false);
  });

  it('channel circuits open only because of other models do not refuse this model', async () => {
    const t = setup({}, { model: 'z' });
    for (const name of ['a', 'b', 'c']) {
      for (const model of ['x', 'y']) {
        const adm = t.breaker.acquire(name, model);
        if (adm.admitted) adm.permit.success(); // both worked there before
        failOn(t, name, model, s500);
      }
    }
    expect(t.breaker.peek('a', 'z').admitted).toBe(false);
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'a' } });
    expect(t.calls).toEqual(['a']);
  });

  it("answers no-channel only when the model's own circuits are open on every channel, with the soonest retry", async () => {
    const t = setup({}, { model: 'm' });
    for (const name of ['a', 'b', 'c']) {
      failOn(t, name, 'm', s500);
      await t.clock.advance(1_000);
    }
    await t.clock.advance(500);
    expect(await t.run()).toMatchObject({ ok: false, reason: 'no-channel', retryAfterMs: 6_500 });
    expect(t.calls).toEqual([]);
    // Another model on the same channels is untouched.
    const other = await runWithFailover({
      candidates: [{ name: 'a' }],
      model: 'other',
      attempt: async () => ({ ok: true, value: 'fine' }),
      maxAttemptsPerChannel: 1,
      maxTotalMs: 1_000,
      clock: t.clock,
      breaker: t.breaker,
    });
    expect(other.ok).toBe(true);
  });

  it("a channel open from connection failures is tried when the model's own circuits refuse the rest", async () => {
    const t = setup({}, { model: 'm' });
    failOn(t, 'a', 'm', s500);
    failOn(t, 'b', 'm', s500);
    failOn(t, 'c', 'other', refused);
    const result = await t.run();
    expect(result).toMatchObject({ ok: true, channel: { name: 'c' } });
    expect(t.calls).toEqual(['c']);
  });

  it('keys channel+model circuits on each candidate’s own name for the model (modelOf)', async () => {
    // Two client names (an alias and the model itself) for one upstream model on channel a.
    const t = setup({}, { candidates: [{ name: 'a' }] });
    const run = (model: string) =>
      runWithFailover({
        candidates: [{ name: 'a' }],
        model,
        modelOf: () => 'upstream-m',
        attempt: async () => ({ ok: false, failure: s500 }),
        maxAttemptsPerChannel: 1,
        maxTotalMs: 60_000,
        clock: t.clock,
        breaker: t.breaker,
      });
    await run('alias');
    await run('upstream-m');
    await run('alias');
    expect(t.breaker.snapshot().filter((c) => c.model !== null)).toMatchObject([
      { model: 'upstream-m', state: 'open', failuresInWindow: 3 },
    ]);
    expect(await run('another-alias')).toMatchObject({ reason: 'no-channel', refused: 'model' });
  });

  it('a dead channel gets one try per request in panic, never a retry', async () => {
    const t = setup({}, { model: 'm', candidates: [{ name: 'a' }] });
    let upstreamCalls = 0;
    const attempt = async (): Promise<AttemptResult<string>> => {
      upstreamCalls++;
      return { ok: false, failure: refused };
    };
    const results = [];
    for (let i = 0; i < 20; i++) {
      results.push(
        await runWithFailover({
          candidates: [{ name: 'a' }],
          model: 'm',
          attempt,
          maxAttemptsPerChannel: 2,
          maxTotalMs: 60_000,
          clock: t.clock,
          breaker: t.breaker,
          backoff: { baseMs: 0, capMs: 0 },
        }),
      );
    }
    // Two tries, the third failure opens the channel; then one panic try per request.
    expect(upstreamCalls).toBe(2 + 1 + 18);
    expect(results.slice(2).every((r) => r.attempts.length === 1 && r.attempts[0]?.panic)).toBe(
      true,
    );
    expect(t.breaker.snapshot()[0]).toMatchObject({ state: 'open', cause: 'connection' });
  });

  it('one panic request in flight per channel: the others get no-channel with a retry time', async () => {
    const t = setup({}, { model: 'm', candidates: [{ name: 'a' }, { name: 'b' }] });
    failOn(t, 'a', 'm', refused);
    failOn(t, 'b', 'm', refused);
    const releases: Array<() => void> = [];
    const calls: string[] = [];
    const run = () =>
      runWithFailover({
        candidates: [{ name: 'a' }, { name: 'b' }],
        model: 'm',
        attempt: (ch) => {
          calls.push(ch.name);
          return new Promise<AttemptResult<string>>((resolve) =>
            releases.push(() => resolve({ ok: false, failure: refused })),
          );
        },
        maxAttemptsPerChannel: 2,
        maxTotalMs: 60_000,
        clock: t.clock,
        breaker: t.breaker,
      });
    const inFlight = [run(), run()];
    const refusedNow = await Promise.all([run(), run(), run()]);
    expect(calls.sort()).toEqual(['a', 'b']); // one per channel
    for (const r of refusedNow) {
      expect(r).toMatchObject({
        ok: false,
        reason: 'no-channel',
        refused: 'channel',
        attempts: [],
      });
      expect(r.ok === false && r.retryAfterMs).toBeGreaterThan(0);
    }
    for (const release of releases) release();
    await Promise.all(inFlight);
    // Both reported back (and failed): the next request may try again.
    const again = run();
    expect(calls).toHaveLength(3);
    releases[2]?.();
    expect(await again).toMatchObject({ ok: false, reason: 'exhausted' });
  });

  it('says not-served when every channel remembers that it lacks the model; dead keys win over that', async () => {
    const t = setup({}, { model: 'm', candidates: [{ name: 'a' }, { name: 'b' }] });
    failOn(t, 'a', 'm', { kind: 'model', status: 404, message: 'no such model' });
    failOn(t, 'b', 'm', { kind: 'model', status: 404, message: 'no such model' });
    expect(await t.run()).toMatchObject({ ok: false, reason: 'no-channel', refused: 'not-served' });
    // A third channel might serve it, but its key is rejected: the operator's news.
    const adm = t.breaker.acquire('c', 'other');
    if (adm.admitted) adm.permit.failure({ kind: 'auth', status: 401 });
    const withDead = setup({}, { model: 'm', breaker: t.breaker, clock: t.clock });
    expect(await withDead.run()).toMatchObject({
      ok: false,
      reason: 'no-channel',
      refused: 'dead',
    });
    expect([...t.calls, ...withDead.calls]).toEqual([]);
  });

  it('never tries a channel whose key was rejected', async () => {
    const t = setup({}, { model: 'm', candidates: [{ name: 'a' }, { name: 'b' }] });
    for (const name of ['a', 'b']) {
      const adm = t.breaker.acquire(name, 'm');
      if (adm.admitted) adm.permit.failure({ kind: 'auth', status: 401 });
    }
    expect(await t.run()).toMatchObject({ ok: false, reason: 'no-channel' });
    expect(t.calls).toEqual([]);
  });
});
