import type { BreakerRegistry, OpenCause, Refusal, Standing } from './breaker.ts';
import { planAttemptOrder, type CandidateChannel } from './plan.ts';

/**
 * Open channel circuits that panic routing may pass: a guess from connection failures, or from
 * other models. Not a rejected key (a verdict), nor the failures of callers that name no model
 * (the channel circuit is then the model's own).
 */
const PANIC_CAUSES: ReadonlySet<OpenCause> = new Set(['connection', 'models']);

export type { Refusal } from './breaker.ts';

export interface BreakerPlan<C> {
  /** Channels to try, in order. */
  readonly order: C[];
  /** Names in `order` to acquire past their open channel circuit (panic routing). */
  readonly panic: ReadonlySet<string>;
  /** With an empty order: how long until one of the model's circuits admits again. */
  readonly retryAfterMs?: number;
  /** With an empty order: why. */
  readonly refused?: Refusal;
}

/** No panic routing: the common plan, shared (read-only) rather than a new Set per request. */
const NO_PANIC: ReadonlySet<string> = new Set();

/**
 * The attempt order for one request, with panic routing (as Envoy's panic threshold does):
 * - channels whose breakers admit, in priority and weight order;
 * - a channel whose circuit opened only because of other models is as good as admitted for
 *   this model when nothing else is left;
 * - with nothing admitted, the channel that failed least recently is tried anyway, once: an
 *   open channel circuit is a guess from recent failures, not a verdict (see PANIC_CAUSES);
 *   a channel takes one such panic request at a time, so a dead one never sees the whole
 *   request rate;
 * - otherwise the answer is "no channel", with how long until the soonest one admits again
 *   and why (see Refusal).
 */
export function planWithBreakers<C extends CandidateChannel>(
  candidates: readonly C[],
  opts: {
    breaker: BreakerRegistry;
    /** The model as each channel knows it (its circuits are keyed on that name). */
    modelOf: (channel: C) => string | undefined;
    now: number;
    random: () => number;
  },
): BreakerPlan<C> {
  const standings = new Map<string, Standing>();
  for (const c of candidates) standings.set(c.name, opts.breaker.standing(c.name, opts.modelOf(c)));
  const standingOf = (c: C) => standings.get(c.name) as Standing;

  const admitted = planAttemptOrder(candidates, {
    random: opts.random,
    admits: (c) => standingOf(c).admitted,
  });
  if (admitted.length > 0) return { order: admitted, panic: NO_PANIC };

  const passOthers = (s: Standing) => !s.admitted && s.by === 'channel' && s.otherModelsOnly;
  const others = planAttemptOrder(candidates, {
    random: opts.random,
    admits: (c) => passOthers(standingOf(c)),
  });
  if (others.length > 0) return { order: others, panic: new Set(others.map((c) => c.name)) };

  let leastRecent: { channel: C; failedAt: number } | undefined;
  for (const channel of candidates) {
    const s = standingOf(channel);
    if (!panicable(s) || s.panicBusyUntil !== null) continue;
    if (!leastRecent || s.failedAt < leastRecent.failedAt)
      leastRecent = { channel, failedAt: s.failedAt };
  }
  if (leastRecent)
    return { order: [leastRecent.channel], panic: new Set([leastRecent.channel.name]) };
  return noChannel([...standings.values()], opts.now);
}

type ChannelStanding = Extract<Standing, { by: 'channel' }>;

function panicable(s: Standing): s is ChannelStanding {
  return !s.admitted && s.by === 'channel' && PANIC_CAUSES.has(s.cause);
}

/** Nothing to try: how long until something admits again, and why (see refusalOf). */
function noChannel<C>(standings: readonly Standing[], now: number): BreakerPlan<C> {
  const refusals = standings.filter((s) => !s.admitted);
  if (refusals.length === 0) return { order: [], panic: NO_PANIC };
  const waits = refusals.map((s) =>
    Math.max(0, (panicable(s) ? (s.panicBusyUntil ?? s.retryAt) : s.retryAt) - now),
  );
  const refused = refusalOf(refusals);
  return { order: [], panic: NO_PANIC, retryAfterMs: Math.min(...waits), refused };
}

/**
 * The most hopeful reason first: a channel whose one panic request is in flight is free again
 * once it reports back, and a model cooling down comes back by itself; a model that no channel
 * serves is the client's news (a 404), unless some channel that might serve it has its key
 * rejected, which is the operator's.
 */
function refusalOf(refusals: readonly Standing[]): Refusal {
  if (refusals.some(panicable)) return 'channel';
  const notServed = (s: Standing) => !s.admitted && s.by === 'model' && s.cause === 'not-served';
  const dead = (s: Standing) => !s.admitted && s.by === 'channel' && s.cause === 'dead';
  if (refusals.some((s) => !notServed(s) && !dead(s))) return 'model';
  return refusals.every(notServed) ? 'not-served' : 'dead';
}
