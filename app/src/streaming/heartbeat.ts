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
  return new Beater(options);
}

/** A class, not closures over an object literal: every stream keeps one while it runs. */
class Beater implements Heartbeat {
  readonly #options: HeartbeatOptions;
  #beats = 0;
  #stopped = false;
  #cancel: (() => void) | undefined;
  #done: Promise<void> | undefined;
  #settle: (() => void) | undefined;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#next();
  }

  get beats(): number {
    return this.#beats;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get done(): Promise<void> {
    return (this.#done ??= this.#stopped
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#settle = resolve)));
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#settle?.();
  }

  #next(): void {
    if (!this.#stopped)
      this.#cancel = after(this.#options.clock, this.#options.intervalMs, this.#beat);
  }

  readonly #beat = (): void => {
    this.#cancel = undefined;
    if (this.#stopped) return;
    this.#beats++;
    let written: void | Promise<unknown>;
    try {
      written = this.#options.onBeat(KEEP_ALIVE_COMMENT);
    } catch {
      return this.stop();
    }
    if (this.#beats >= (this.#options.maxBeats ?? 1_000)) return this.stop();
    // The next interval starts once this beat is written, as a client that reads slowly sets.
    if (written instanceof Promise)
      written.then(
        () => this.#next(),
        () => this.stop(),
      );
    else this.#next();
  };
}
