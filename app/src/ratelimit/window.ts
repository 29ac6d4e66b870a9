/** Length of a rate window: limits are per minute. */
export const WINDOW_MS = 60_000;

/** One key's counters: requests admitted in the window starting at `start`, and in the one before. */
export interface WindowState {
  readonly start: number;
  readonly count: number;
  readonly previous: number;
}

export interface Admission {
  readonly admitted: boolean;
  /** Requests counted against the limit before this one (the previous minute weighted). */
  readonly used: number;
  /** When refused: how long until one more request would fit. */
  readonly waitMs: number;
  /** The counters to keep for the next request. */
  readonly next: WindowState;
}

/** Where the counters live: this process's memory, or a store that all workers share. */
export interface RateWindows {
  /** Counts one request by `keyId` at `t` against `rpm`, if it fits. Atomic per call. */
  hit(keyId: number, rpm: number, t: number): Admission;
  close?(): void;
}

/**
 * A sliding window: the previous minute's count weighted by how much of it still overlaps, so
 * there is no burst of 2× at a minute boundary, in O(1) state per key. Refused requests are not
 * counted, so a client that waits as long as Retry-After says gets in.
 */
export function admit(w: WindowState | undefined, now: number, rpm: number): Admission {
  // Workers' clocks can disagree by a hair about who rolled the window first.
  const t = w ? Math.max(now, w.start) : now;
  let state = w ?? { start: t, count: 0, previous: 0 };
  const elapsed = t - state.start;
  if (elapsed >= WINDOW_MS) {
    const skipped = elapsed >= 2 * WINDOW_MS;
    state = {
      start: skipped ? t : state.start + WINDOW_MS,
      count: 0,
      previous: skipped ? 0 : state.count,
    };
  }
  const used = state.previous * (1 - (t - state.start) / WINDOW_MS) + state.count;
  if (used + 1 > rpm) return { admitted: false, used, waitMs: waitMs(state, t, rpm), next: state };
  return { admitted: true, used, waitMs: 0, next: { ...state, count: state.count + 1 } };
}

/**
 * When one more request will fit: either later in this window, as the previous minute slides
 * out, or in the next one, where this window's count becomes the one sliding out.
 */
function waitMs(w: WindowState, t: number, rpm: number): number {
  const room = rpm - 1;
  if (w.count <= room && w.previous > 0) {
    return Math.max(0, w.start + WINDOW_MS * (1 - (room - w.count) / w.previous) - t);
  }
  const intoNext = w.count > 0 ? WINDOW_MS * Math.max(0, 1 - room / w.count) : 0;
  return Math.max(0, w.start + WINDOW_MS + intoNext - t);
}

/** For one process: nothing to share, nothing to write. */
export function memoryRateWindows(): RateWindows {
  const windows = new Map<number, WindowState>();
  return {
    hit(keyId, rpm, t) {
      const a = admit(windows.get(keyId), t, rpm);
      windows.set(keyId, a.next);
      return a;
    },
  };
}
