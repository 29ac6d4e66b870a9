/** The order in which one request tries the channels that serve its model. */

export interface CandidateChannel {
  readonly name: string;
  /** Lower goes first. Default 0. */
  readonly priority?: number;
  /** Share of first picks within a priority. Default 1; 0 or less = only as a last resort there. */
  readonly weight?: number;
}

export interface PlanOptions<C> {
  /** Uniform in [0, 1); injectable for deterministic tests. */
  random?: () => number;
  /** False skips the channel (e.g. its breaker refuses). */
  admits?: (channel: C) => boolean;
}

/**
 * Priority ascending; within a priority a weighted random permutation (Efraimidis–Spirakis:
 * each channel draws -ln(u)/weight and the smallest goes first, so P(first) = w / Σw and
 * later places follow the same rule among the rest). Each channel name appears at most once.
 */
export function planAttemptOrder<C extends CandidateChannel>(
  candidates: readonly C[],
  options: PlanOptions<C> = {},
): C[] {
  const random = options.random ?? Math.random;
  const seen = new Set<string>();
  const keyed: Array<{ channel: C; priority: number; fallback: boolean; key: number }> = [];
  for (const channel of candidates) {
    if (seen.has(channel.name)) continue;
    seen.add(channel.name);
    if (options.admits && !options.admits(channel)) continue;
    const weight = channel.weight ?? 1;
    const usable = Number.isFinite(weight) && weight > 0;
    const u = Math.min(Math.max(random(), Number.MIN_VALUE), 1 - Number.EPSILON);
    keyed.push({
      channel,
      priority: Number.isFinite(channel.priority) ? (channel.priority as number) : 0,
      fallback: !usable,
      key: -Math.log(u) / (usable ? weight : 1),
    });
  }
  keyed.sort(
    (a, b) => a.priority - b.priority || Number(a.fallback) - Number(b.fallback) || a.key - b.key,
  );
  return keyed.map((k) => k.channel);
}
