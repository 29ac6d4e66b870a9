import type { Clock } from './clock.ts';
import type { FailureKind, UpstreamFailure } from '../core/failure.ts';
import { RollingWindow } from './rolling-window.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Why a circuit is open: connection failures, a rejected key, its own failures, a model the
 * channel does not serve, or (channel circuits) failures of several models on the channel.
 */
export type OpenCause = 'connection' | 'dead' | 'failures' | 'not-served' | 'models';

export interface CircuitRules {
  readonly windowMs: number;
  readonly minimumCalls: number;
  readonly failureRate: number;
  readonly consecutiveFailures: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  readonly deadProbeIntervalMs: number;
  readonly probeLeaseMs: number;
}

export interface LastFailure {
  kind: FailureKind;
  status: number | null;
  at: number;
}

/** What an admin endpoint may show: no messages (upstream texts can echo key fragments). */
export interface CircuitSnapshot {
  channel: string;
  model: string | null;
  state: CircuitState;
  dead: boolean;
  cause: OpenCause | null;
  /** Channel circuits opened across models: which models. */
  models?: string[];
  callsInWindow: number;
  /** Channel circuits count connection failures here; model failures show on model circuits. */
  failuresInWindow: number;
  consecutiveFailures: number;
  openedAt: number | null;
  retryAt: number | null;
  probeInFlight: boolean;
  /** Cooling down, or opened within the window: what /healthz and the channel count as open. */
  tripped: boolean;
  lastFailure: LastFailure | null;
}

export type Verdict = { ok: true; probe: boolean } | { ok: false; retryAt: number };

type Failure = Pick<UpstreamFailure, 'kind' | 'status'>;

/**
 * One circuit (a channel's, or a model's on a channel): closed while the calls in its window
 * go well enough, open for a cooldown once they do not, then half-open for a single probe.
 */
export class Circuit {
  readonly channel: string;
  readonly model: string | null;
  /** Failures in a row (a channel circuit: connection failures in a row). */
  consecutive = 0;
  openedAt: number | null = null;
  retryAt: number | null = null;
  cause: OpenCause | null = null;
  /** For a channel opened across models: those models. */
  models: readonly string[] = [];
  probeStartedAt: number | null = null;
  lastFailure: LastFailure | null = null;
  /**
   * A model circuit whose model has answered on this channel at least once. Only those count
   * towards opening the channel across models: a name that never got an answer there (made
   * up by a client on a pattern channel, or never served) says nothing about the channel.
   */
  proven = false;
  lastUsedAt: number;
  readonly #window: RollingWindow;
  readonly #rules: CircuitRules;
  readonly #clock: Clock;

  constructor(channel: string, model: string | null, rules: CircuitRules, clock: Clock) {
    this.channel = channel;
    this.model = model;
    this.#rules = rules;
    this.#clock = clock;
    this.#window = new RollingWindow(rules.windowMs);
    this.lastUsedAt = clock.now();
  }

  /** Half-open with no probe for a whole window since it could have had one: closed again. */
  state(): CircuitState {
    if (this.retryAt === null) return 'closed';
    const now = this.#clock.now();
    if (now < this.retryAt) return 'open';
    const leaseEnd =
      this.probeStartedAt === null ? 0 : this.probeStartedAt + this.#rules.probeLeaseMs;
    if (now - Math.max(this.retryAt, leaseEnd) < this.#rules.windowMs) return 'half-open';
    // Nobody asked since: the failures that opened it say nothing about now.
    this.close();
    return 'closed';
  }

  /**
   * Open in the sense that matters for judging the channel or the relay: still cooling down,
   * or opened within the window. A circuit that half-opened long ago and waits for a probe
   * nobody sends is no news.
   */
  tripped(): boolean {
    const state = this.state();
    if (state === 'closed') return false;
    return state === 'open' || this.#clock.now() - (this.openedAt as number) < this.#rules.windowMs;
  }

  /** The one slot is held (by a probe, or by a panic pass), until it reports back or its lease ends. */
  slotTaken(): boolean {
    return (
      this.probeStartedAt !== null &&
      this.#clock.now() - this.probeStartedAt < this.#rules.probeLeaseMs
    );
  }

  /** When the slot's holder is expected back: it usually settles long before its lease. */
  slotFreeAt(): number {
    const { probeLeaseMs, cooldownMs } = this.#rules;
    return (this.probeStartedAt ?? this.#clock.now()) + Math.min(probeLeaseMs, cooldownMs);
  }

  probeInFlight(): boolean {
    return this.slotTaken() && this.state() === 'half-open';
  }

  /** Would this circuit let a request through now, and as its probe? */
  verdict(): Verdict {
    const state = this.state();
    if (state === 'closed') return { ok: true, probe: false };
    if (state === 'open') return { ok: false, retryAt: this.retryAt as number };
    // If the probe fails, a cooldown follows.
    if (this.slotTaken()) return { ok: false, retryAt: this.slotFreeAt() };
    return { ok: true, probe: true };
  }

  close(): void {
    this.#window.reset();
    this.consecutive = 0;
    this.openedAt = null;
    this.retryAt = null;
    this.cause = null;
    this.models = [];
    this.probeStartedAt = null;
  }

  open(cause: OpenCause, cooldownMs: number): void {
    const now = this.#clock.now();
    this.openedAt = now;
    this.retryAt = now + cooldownMs;
    this.cause = cause;
    this.probeStartedAt = null;
  }

  /** Opens for the cooldown the upstream asked for (Retry-After), within bounds. */
  openFor(cause: OpenCause, retryAfterMs: number | undefined): void {
    const { cooldownMs, maxCooldownMs } = this.#rules;
    const ms =
      retryAfterMs === undefined ? cooldownMs : Math.min(Math.max(0, retryAfterMs), maxCooldownMs);
    this.open(cause, ms);
  }

  /** A rejected key: open until a probe on the dead interval passes. */
  openDead(retryAfterMs: number | undefined): void {
    this.openFor('dead', retryAfterMs);
    const floor = (this.openedAt as number) + this.#rules.deadProbeIntervalMs;
    this.retryAt = Math.max(this.retryAt as number, floor);
  }

  /** A probe (or a panic request) failed: a fresh cooldown; a dead key stays dead. */
  reopen(failure: Failure, cause: OpenCause, retryAfterMs: number | undefined): void {
    this.noteFailure(failure);
    if (this.cause === 'dead') this.open('dead', this.#rules.deadProbeIntervalMs);
    else this.openFor(cause, retryAfterMs);
  }

  noteFailure(failure: Failure): void {
    this.lastFailure = {
      kind: failure.kind,
      status: failure.status ?? null,
      at: this.#clock.now(),
    };
  }

  /** A call that did not fail on this circuit's account. Ignored unless the circuit is closed. */
  recordOk(): void {
    if (this.retryAt !== null) return;
    this.#window.record(this.#clock.now(), false);
    this.consecutive = 0;
  }

  /**
   * Counts a failure; true when it should open the circuit: a failure rate at or above
   * failureRate once the window holds minimumCalls, or consecutiveFailures in a row below that.
   */
  recordFailure(failure: Failure): boolean {
    const now = this.#clock.now();
    const r = this.#rules;
    // Failures in a row count only within a window: one a day for a week is not an outage.
    if (this.lastFailure && now - this.lastFailure.at > r.windowMs) this.consecutive = 0;
    this.noteFailure(failure);
    // A late failure from a request admitted before the circuit opened changes nothing.
    if (this.retryAt !== null) return false;
    this.#window.record(now, true);
    this.consecutive++;
    const { calls, failures } = this.#window.totals(now);
    if (calls >= r.minimumCalls) return failures / calls >= r.failureRate;
    return this.consecutive >= r.consecutiveFailures;
  }

  snapshot(): CircuitSnapshot {
    const { calls, failures } = this.#window.totals(this.#clock.now());
    return {
      channel: this.channel,
      model: this.model,
      state: this.state(),
      dead: this.cause === 'dead',
      cause: this.cause,
      ...(this.cause === 'models' && { models: [...this.models] }),
      callsInWindow: calls,
      failuresInWindow: failures,
      consecutiveFailures: this.consecutive,
      openedAt: this.openedAt,
      retryAt: this.retryAt,
      probeInFlight: this.probeInFlight(),
      tripped: this.tripped(),
      lastFailure: this.lastFailure ? { ...this.lastFailure } : null,
    };
  }
}
