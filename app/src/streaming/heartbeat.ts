import { after } from '../routing/clock.ts';
import type { Clock } from '../routing/clock.ts';

/** An SSE comment: clients and SDKs ignore it, but it keeps CloudFront's read timer from firing. */
export const KEEP_ALIVE_COMMENT = ': keep-alive\n\n';

export interface HeartbeatOptions {
  clock: Clock;
  /** Gap between beats; the first beat comes one interval after start. */
  intervalMs: number;
  /** Writes the comment. A throw or rejection (client gone) stops the heartbeat. */
  onBeat: (comment: string) => void | Promise<unknown>;
  /** Hard stop after this many beats, so a forgotten heartbeat cannot run forever. */
  maxBeats?: number;
}

export interface Heartbeat {
  /** Idempotent; no beat is emitted after it returns. */
  stop(): void;
  /** Beats emitted so far: more than 0 means response headers are already out. */
  readonly beats: number;
  readonly stopped: boolean;
  /** Settles once the heartbeat has stopped (made on first read: the relay never reads it). */
  readonly done: Promise<void>;
}

/**
 * Emits KEEP_ALIVE_COMMENT every `intervalMs` until stopped. Meant for the wait before the
 * first content chunk; once content flows the stream keeps the connection busy by itself.
 * One timer at a time, cancelled by stop(): every stream starts a heartbeat and nearly every
 * one stops it before its first beat, so that pair is all most streams pay.
 */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { clock, intervalMs } = options;
  const maxBeats = options.maxBeats ?? 1_000;
  let beats = 0;
  let stopped = false;
  let cancel: (() => void) | undefined;
  let done: Promise<void> | undefined;
  let settle: (() => void) | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    cancel?.();
    cancel = undefined;
    settle?.();
  };
  const next = (): void => {
    if (!stopped) cancel = after(clock, intervalMs, beat);
  };
  const beat = (): void => {
    cancel = undefined;
    if (stopped) return;
    beats++;
    let written: void | Promise<unknown>;
    try {
      written = options.onBeat(KEEP_ALIVE_COMMENT);
    } catch {
      return stop();
    }
    if (beats >= maxBeats) return stop();
    // The next interval starts once this beat is written, as a client that reads slowly sets.
    if (written instanceof Promise) written.then(next, stop);
    else next();
  };
  next();

  return {
    stop,
    get beats() {
      return beats;
    },
    get stopped() {
      return stopped;
    },
    get done() {
      return (done ??= stopped
        ? Promise.resolve()
        : new Promise<void>((resolve) => (settle = resolve)));
    },
  };
}
