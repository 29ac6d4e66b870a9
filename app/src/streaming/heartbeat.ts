import type { Clock } from '../routing/clock.ts';

/** An SSE comment: clients and SDKs ignore it, but it keeps CloudFront's read timer from firing. */
export const KEEP_ALIVE_COMMENT = ': keep-alive\n\n';

/** One shared abort reason: aborting without one builds a DOMException (with a stack) per request. */
const STOPPED = new Error('heartbeat stopped');

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
  /** Settles when the loop has ended. */
  readonly done: Promise<void>;
}

/**
 * Emits KEEP_ALIVE_COMMENT every `intervalMs` until stopped. Meant for the wait before the
 * first content chunk; once content flows the stream keeps the connection busy by itself.
 */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const controller = new AbortController();
  const maxBeats = options.maxBeats ?? 1_000;
  let beats = 0;

  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted && beats < maxBeats) {
      try {
        await options.clock.sleep(options.intervalMs, controller.signal);
      } catch {
        return;
      }
      if (controller.signal.aborted) return;
      beats++;
      try {
        await options.onBeat(KEEP_ALIVE_COMMENT);
      } catch {
        controller.abort(STOPPED);
        return;
      }
    }
    controller.abort(STOPPED);
  };
  const done = loop();

  return {
    stop: () => controller.abort(STOPPED),
    get beats() {
      return beats;
    },
    get stopped() {
      return controller.signal.aborted;
    },
    done,
  };
}
