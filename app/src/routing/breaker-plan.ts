import type { BreakerRegistry, OpenCause, Standing } from './breaker.ts';
import { planAttemptOrder, type CandidateChannel } from './plan.ts';

/**
 * Open channel circuits that panic routing may pass: a guess from connection failures, or from
 * other models. Not a rejected key (a verdict), nor the failures of callers that name no model
 * (the channel circuit is then the model's own).
 */
const PANIC_CAUSES: ReadonlySet<OpenCause> = new Set(['connection', 'models']);

/**
 * Why no channel is left for a request: the model's own circuits are cooling down somewhere,
 * or every channel that serves it has its key or account rejected.
 */
export type Refusal = 'model' | 'dead';

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

/**
 * The attempt order for one request, with panic routing (as Envoy's panic threshold does):
 * - channels whose breakers admit, in priority and weight order;
 * - a channel whose circuit opened only because of other models is as good as admitted for
 *   this model when nothing else is left;
 * - with nothing admitted, the channel that failed least recently is tried anyway: an open
 *   channel circuit is a guess from recent failures, not a verdict (see PANIC_CAUSES);
 * - only when the model's own circuits (or dead keys) refuse on every channel is the answer
 *   "no channel", with how long until the soonest one admits again.
 */
export function planWithBreakers<C extends CandidateChannel>(
  candidates: readonly C[],
  opts: { breaker: BreakerRegistry; model: string | undefined; now: number; random: () => number },
): BreakerPlan<C> {
  const standings = new Map<string, Standing>();
  for (const c of candidates) standings.set(c.name, opts.breaker.standing(c.name, opts.model));
  const standingOf = (c: C) => standings.get(c.name) as Standing;

  const admitted = planAttemptOrder(candidates, {
    random: opts.random,
    admits: (c) => standingOf(c).admitted,
  });
  if (admitted.length > 0) return { order: admitted, panic: new Set() };

  const passOthers = (s: Standing) => !s.admitted && s.by === 'channel' && s.otherModelsOnly;
  const others = planAttemptOrder(candidates, {
    random: opts.random,
    admits: (c) => passOthers(standingOf(c)),
  });
  if (others.length > 0) return { order: others, panic: new Set(others.map((c) => c.name)) };

  let leastRecent: { channel: C; failedAt: number } | undefined;
  for (const channel of candidates) {
    const s = standingOf(channel);
    if (s.admitted || s.by !== 'channel' || !PANIC_CAUSES.has(s.cause)) continue;
    if (!leastRecent || s.failedAt < leastRecent.failedAt)
      leastRecent = { channel, failedAt: s.failedAt };
  }
  if (leastRecent)
    return { order: [leastRecent.channel], panic: new Set([leastRecent.channel.name]) };

  const refusals = [...standings.values()].filter((s) => !s.admitted);
  const waits = refusals.map((s) => Math.max(0, s.retryAt - opts.now));
  return {
    order: [],
    panic: new Set(),
    ...(waits.length > 0 && { retryAfterMs: Math.min(...waits), refused: refusalOf(refusals) }),
  };
}

/** Every channel's key rejected is the operator's to fix; anything else cools down by itself. */
function refusalOf(refusals: readonly Standing[]): Refusal {
  const dead = (s: Standing) => !s.admitted && s.by === 'channel' && s.cause === 'dead';
  return refusals.every(dead) ? 'dead' : 'model';
}
