import type { RateAdmission, RateLimits, RateWindows, WindowUse } from '../store/types.ts';

/** Length of a rate window: limits are per minute. */
export const WINDOW_MS = 60_000;

/** One key's counters: what was counted in the window starting at `start`, and in the one before. */
export interface WindowState {
  readonly start: number;
  readonly count: number;
  readonly previous: number;
}

export interface Admission {
  readonly admitted: boolean;
  /** Counted against the limit before this request (the previous minute weighted). */
  readonly used: number;
  /** When refused: how long until one more would fit. */
  readonly waitMs: number;
  /** The counters to keep for the next request. */
  readonly next: WindowState;
}

/** Moves the window up to `now`: a minute later this window's count becomes the one sliding out. */
function roll(w: WindowState | undefined, now: number): { state: WindowState; t: number } {
  // Workers' clocks can disagree by a hair about who rolled the window first.
  const t = w ? Math.max(now, w.start) : now;
  const state = w ?? { start: t, count: 0, previous: 0 };
  const elapsed = t - state.start;
  if (elapsed < WINDOW_MS) return { state, t };
  const skipped = elapsed >= 2 * WINDOW_MS;
  return {
    state: {
      start: skipped ? t : state.start + WINDOW_MS,
      count: 0,
      previous: skipped ? 0 : state.count,
    },
    t,
  };
}

/**
 * A sliding window: the previous minute's count weighted by how much of it still overlaps, so
 * there is no burst of 2× at a minute boundary, in O(1) state per key. Refused when not even one
 * more fits; an admitted request adds `add` (1 for requests; 0 for tokens, which are added at
 * settlement). Refused requests are not counted, so a client that waits as long as Retry-After
 * says gets in.
 */
export function admit(w: WindowState | undefined, now: number, limit: number, add = 1): Admission {
  const { state, t } = roll(w, now);
  const used = state.previous * (1 - (t - state.start) / WINDOW_MS) + state.count;
  if (used + 1 > limit) {
    return { admitted: false, used, waitMs: waitMs(state, t, limit), next: state };
  }
  return { admitted: true, used, waitMs: 0, next: { ...state, count: state.count + add } };
}

/** The window after `amount` more (tokens of a settled request) at `now`. */
export function addTo(w: WindowState | undefined, now: number, amount: number): WindowState {
  const { state } = roll(w, now);
  return { ...state, count: state.count + amount };
}

/**
 * When one more will fit: either later in this window, as the previous minute slides out, or
 * in the next one, where this window's count becomes the one sliding out.
 */
function waitMs(w: WindowState, t: number, limit: number): number {
  const room = limit - 1;
  if (w.count <= room && w.previous > 0) {
    return Math.max(0, w.start + WINDOW_MS * (1 - (room - w.count) / w.previous) - t);
  }
  const intoNext = w.count > 0 ? WINDOW_MS * Math.max(0, 1 - room / w.count) : 0;
  return Math.max(0, w.start + WINDOW_MS + intoNext - t);
}

/** Both windows' verdict on one request, and the request window to keep (null: unchanged). */
export interface Decision {
  readonly admission: RateAdmission;
  readonly requests: WindowState | null;
}

const use = (a: Admission, limit: number): WindowUse => ({ limit, used: a.used, waitMs: a.waitMs });

/**
 * RPM then TPM: a request must fit both, and one that either refuses is counted in neither.
 * The same rule for every implementation; only where the counters live differs.
 */
export function decide(
  limits: RateLimits,
  requests: WindowState | undefined,
  tokens: WindowState | undefined,
  t: number,
): Decision {
  const r = limits.rpm === null ? null : admit(requests, t, limits.rpm);
  const k = limits.tpm === null ? null : admit(tokens, t, limits.tpm, 0);
  const refusedBy = r && !r.admitted ? 'requests' : k && !k.admitted ? 'tokens' : null;
  const admission: RateAdmission = {
    admitted: refusedBy === null,
    refusedBy,
    requests: r && use(r, limits.rpm!),
    tokens: k && use(k, limits.tpm!),
    waitMs: Math.max(r?.admitted === false ? r.waitMs : 0, k?.admitted === false ? k.waitMs : 0),
  };
  return { admission, requests: r && refusedBy === null ? r.next : null };
}

/** For one process: nothing to share, nothing to write. */
export function memoryRateWindows(): RateWindows {
  const requests = new Map<number, WindowState>();
  const tokens = new Map<number, WindowState>();
  return {
    async hit(keyId, limits, t) {
      const d = decide(limits, requests.get(keyId), tokens.get(keyId), t);
      if (d.requests) requests.set(keyId, d.requests);
      return d.admission;
    },
    async addTokens(keyId, amount, t) {
      if (amount > 0) tokens.set(keyId, addTo(tokens.get(keyId), t, amount));
    },
  };
}
