import { attributeFailure, type AttributedFailure } from './attribution.ts';
import type { Clock } from './clock.ts';
import type { FailureKind, UpstreamFailure } from './failure.ts';
import { RollingWindow } from './rolling-window.ts';

export interface BreakerOptions {
  /** The sliding window over which calls and failures are counted. */
  windowMs: number;
  /** Calls in the window from which the failure rate is judged; below it, failures in a row. */
  minimumCalls: number;
  /** Share of failed calls (0–1) in the window that opens a circuit, once minimumCalls is reached. */
  failureRate: number;
  /** Below minimumCalls: failures in a row that open a circuit. */
  consecutiveFailures: number;
  /** Connection failures in a row (refused, TLS, DNS, connect timeout) that open a channel, at any volume. */
  connectFailures: number;
  /** Channel+model circuits opened by failures on one channel that open the whole channel. */
  modelsToOpenChannel: number;
  /** How long an opened circuit refuses before admitting a probe (unless Retry-After says). */
  cooldownMs: number;
  /** Ceiling for a Retry-After-driven cooldown. */
  maxCooldownMs: number;
  /** How often a dead key (401/403/no quota) gets a probe. */
  deadProbeIntervalMs: number;
  /** A probe that never reports back frees its slot after this long. */
  probeLeaseMs: number;
  /** Channel+model circuits kept at most: on pattern channels clients choose the model names. */
  maxModelCircuits: number;
}

export const DEFAULT_BREAKER_OPTIONS: Readonly<BreakerOptions> = {
  windowMs: 30_000,
  minimumCalls: 20,
  failureRate: 0.5,
  consecutiveFailures: 5,
  connectFailures: 3,
  modelsToOpenChannel: 2,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  deadProbeIntervalMs: 300_000,
  probeLeaseMs: 180_000,
  maxModelCircuits: 10_000,
};

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Why a circuit is open: connection failures, a rejected key, its own failures, a model the
 * channel does not serve, or (channel circuits) failures of several models on the channel.
 */
export type OpenCause = 'connection' | 'dead' | 'failures' | 'not-served' | 'models';

interface LastFailure {
  kind: FailureKind;
  status: number | null;
  at: number;
}

interface Circuit {
  readonly channel: string;
  readonly model: string | null;
  readonly window: RollingWindow;
  /** Failures in a row (channel circuits: connection failures in a row). */
  consecutive: number;
  openedAt: number | null;
  retryAt: number | null;
  cause: OpenCause | null;
  /** For a channel opened across models: those models. */
  models: readonly string[];
  probeStartedAt: number | null;
  lastFailure: LastFailure | null;
  lastUsedAt: number;
}

interface ChannelEntry {
  readonly circuit: Circuit;
  readonly models: Map<string, Circuit>;
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
  lastFailure: LastFailure | null;
}

/** The right to send one request; settle it exactly once (later calls are ignored). */
export interface Permit {
  /** True when this request is the single half-open probe of a circuit. */
  readonly probe: boolean;
  /** True when the request passes an open channel circuit (panic routing, see acquire). */
  readonly panic: boolean;
  /** The channel answered usefully (including a client-error answer). */
  success(): void;
  /**
   * Records the failure where attributeFailure says it belongs. `committed`: content had
   * already reached the client (decides where a dropped connection counts).
   */
  failure(
    failure: AttributedFailure & Pick<UpstreamFailure, 'retryAfterMs'>,
    committed?: boolean,
  ): void;
  /** Neither: e.g. the client left. Frees a probe slot without judging the channel. */
  release(): void;
}

export type Admission =
  | { admitted: true; permit: Permit }
  | { admitted: false; state: CircuitState; dead: boolean; retryAt: number };

/**
 * How one channel stands for one model, for planning. `by: 'model'` is the model's own circuit
 * (nothing gets past it); `by: 'channel'` is the whole channel's, which panic routing may pass.
 */
export type Standing =
  | { admitted: true }
  | { admitted: false; by: 'model'; retryAt: number }
  | {
      admitted: false;
      by: 'channel';
      retryAt: number;
      cause: OpenCause;
      /** Opened across models, none of them this one. */
      otherModelsOnly: boolean;
      /** When the channel last failed: panic routing tries the least recent first. */
      failedAt: number;
    };

type Verdict = { ok: true; probe: boolean } | { ok: false; retryAt: number };

/** How a permit treats the channel circuit: judged as usual, as its probe, passed in panic, or not at all. */
type ChannelRole = 'normal' | 'probe' | 'panic' | 'bypass';

/**
 * Circuit breakers per channel and per channel+model. A circuit opens on a failure rate over a
 * sliding window once the window holds enough calls, or on failures in a row below that volume;
 * a channel also opens at once on connection failures in a row, on a rejected key, and when
 * several of its models' circuits are open. After a cooldown one probe is let through; its
 * success closes the circuit.
 */
export class BreakerRegistry {
  readonly #clock: Clock;
  readonly #options: BreakerOptions;
  readonly #channels = new Map<string, ChannelEntry>();
  #modelCircuits = 0;

  constructor(clock: Clock, options: Partial<BreakerOptions> = {}) {
    this.#clock = clock;
    this.#options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  }

  /** How the channel stands for the model now. No side effects: for planning. */
  standing(channel: string, model?: string): Standing {
    const entry = this.#channels.get(channel);
    if (!entry) return { admitted: true };
    const modelCircuit = model === undefined ? undefined : entry.models.get(model);
    const mv = modelCircuit ? this.#verdict(modelCircuit) : undefined;
    if (mv && !mv.ok) return { admitted: false, by: 'model', retryAt: mv.retryAt };
    const c = entry.circuit;
    const cv = this.#verdict(c);
    if (cv.ok) return { admitted: true };
    return {
      admitted: false,
      by: 'channel',
      retryAt: cv.retryAt,
      cause: c.cause ?? 'failures',
      otherModelsOnly: this.#otherModelsOnly(c, model),
      failedAt: c.lastFailure?.at ?? c.openedAt ?? 0,
    };
  }

  /** Would `acquire` admit now? No side effects. */
  peek(channel: string, model?: string): { admitted: boolean; retryAt: number | null } {
    const s = this.standing(channel, model);
    return s.admitted ? { admitted: true, retryAt: null } : { admitted: false, retryAt: s.retryAt };
  }

  /**
   * `panic`: let the request past the channel circuit (never past the model's own). A channel
   * opened only by other models' failures is passed untouched; any other open channel circuit
   * is judged by the outcome as if it were probed, so one success closes it.
   */
  acquire(channel: string, model?: string, options: { panic?: boolean } = {}): Admission {
    const now = this.#clock.now();
    const entry = this.#entry(channel);
    const modelCircuit = model === undefined ? undefined : this.#modelCircuit(entry, model, now);
    const mv = modelCircuit ? this.#verdict(modelCircuit) : { ok: true as const, probe: false };
    if (!mv.ok) return this.#refusal(modelCircuit as Circuit, mv.retryAt);
    const c = entry.circuit;
    const cv = this.#verdict(c);
    let role: ChannelRole = 'normal';
    if (!cv.ok) {
      if (!options.panic) return this.#refusal(c, cv.retryAt);
      role = this.#otherModelsOnly(c, model) ? 'bypass' : 'panic';
    } else if (cv.probe) {
      role = 'probe';
      c.probeStartedAt = now;
    }
    if (mv.probe) (modelCircuit as Circuit).probeStartedAt = now;
    return { admitted: true, permit: this.#permit(entry, modelCircuit, role, mv.probe) };
  }

  /**
   * Channel circuits, and channel+model circuits that are open or saw failures in the window
   * (healthy ones are left out: there is one per model in use).
   */
  snapshot(): CircuitSnapshot[] {
    const out: CircuitSnapshot[] = [];
    for (const entry of this.#channels.values()) {
      out.push(this.#snap(entry.circuit));
      for (const c of entry.models.values()) {
        const snap = this.#snap(c);
        if (snap.state !== 'closed' || snap.failuresInWindow > 0) out.push(snap);
      }
    }
    return out;
  }

  #snap(c: Circuit): CircuitSnapshot {
    const { calls, failures } = c.window.totals(this.#clock.now());
    return {
      channel: c.channel,
      model: c.model,
      state: this.#state(c),
      dead: c.cause === 'dead',
      cause: c.cause,
      ...(c.cause === 'models' && { models: [...c.models] }),
      callsInWindow: calls,
      failuresInWindow: failures,
      consecutiveFailures: c.consecutive,
      openedAt: c.openedAt,
      retryAt: c.retryAt,
      probeInFlight: this.#probeInFlight(c),
      lastFailure: c.lastFailure ? { ...c.lastFailure } : null,
    };
  }

  #newCircuit(channel: string, model: string | null, now: number): Circuit {
    return {
      channel,
      model,
      window: new RollingWindow(this.#options.windowMs),
      consecutive: 0,
      openedAt: null,
      retryAt: null,
      cause: null,
      models: [],
      probeStartedAt: null,
      lastFailure: null,
      lastUsedAt: now,
    };
  }

  #entry(channel: string): ChannelEntry {
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { circuit: this.#newCircuit(channel, null, this.#clock.now()), models: new Map() };
      this.#channels.set(channel, entry);
    }
    return entry;
  }

  #modelCircuit(entry: ChannelEntry, model: string, now: number): Circuit {
    let circuit = entry.models.get(model);
    if (!circuit) {
      if (this.#modelCircuits >= this.#options.maxModelCircuits) this.#evict(now);
      circuit = this.#newCircuit(entry.circuit.channel, model, now);
      entry.models.set(model, circuit);
      this.#modelCircuits++;
    }
    circuit.lastUsedAt = now;
    return circuit;
  }

  /**
   * Makes room for new channel+model circuits: first the closed ones idle for a whole window,
   * then, if that was not enough, the least recently used (open ones last).
   */
  #evict(now: number): void {
    const all: Array<{ entry: ChannelEntry; c: Circuit }> = [];
    for (const entry of this.#channels.values()) {
      for (const c of entry.models.values()) all.push({ entry, c });
    }
    const target = Math.floor(this.#options.maxModelCircuits * 0.9);
    const closedFirst = (c: Circuit) => (this.#state(c) === 'closed' ? 0 : 1);
    all.sort((a, b) => closedFirst(a.c) - closedFirst(b.c) || a.c.lastUsedAt - b.c.lastUsedAt);
    let left = all.length;
    for (const { entry, c } of all) {
      const idle = closedFirst(c) === 0 && c.lastUsedAt <= now - this.#options.windowMs;
      if (left <= target && !idle) break;
      entry.models.delete(c.model as string);
      left--;
    }
    this.#modelCircuits = left;
  }

  #refusal(c: Circuit, retryAt: number): Admission {
    return { admitted: false, state: this.#state(c), dead: c.cause === 'dead', retryAt };
  }

  #otherModelsOnly(c: Circuit, model: string | undefined): boolean {
    return c.cause === 'models' && model !== undefined && !c.models.includes(model);
  }

  #state(c: Circuit): CircuitState {
    if (c.retryAt === null) return 'closed';
    return this.#clock.now() < c.retryAt ? 'open' : 'half-open';
  }

  #probeInFlight(c: Circuit): boolean {
    return (
      c.probeStartedAt !== null &&
      this.#clock.now() - c.probeStartedAt < this.#options.probeLeaseMs &&
      this.#state(c) === 'half-open'
    );
  }

  #verdict(c: Circuit): Verdict {
    const state = this.#state(c);
    if (state === 'closed') return { ok: true, probe: false };
    if (state === 'open') return { ok: false, retryAt: c.retryAt as number };
    if (this.#probeInFlight(c)) {
      // A probe usually settles long before its lease; if it fails, a cooldown follows.
      const started = c.probeStartedAt as number;
      const { probeLeaseMs, cooldownMs } = this.#options;
      return { ok: false, retryAt: started + Math.min(probeLeaseMs, cooldownMs) };
    }
    return { ok: true, probe: true };
  }

  #close(c: Circuit): void {
    c.window.reset();
    c.consecutive = 0;
    c.openedAt = null;
    c.retryAt = null;
    c.cause = null;
    c.models = [];
    c.probeStartedAt = null;
  }

  #open(c: Circuit, cause: OpenCause, cooldownMs: number): void {
    const now = this.#clock.now();
    c.openedAt = now;
    c.retryAt = now + cooldownMs;
    c.cause = cause;
    c.probeStartedAt = null;
  }

  #cooldown(retryAfterMs: number | undefined): number {
    if (retryAfterMs === undefined) return this.#options.cooldownMs;
    return Math.min(Math.max(0, retryAfterMs), this.#options.maxCooldownMs);
  }

  /** A call that did not fail on this circuit's account. Ignored unless the circuit is closed. */
  #recordOk(c: Circuit): void {
    if (c.retryAt !== null) return;
    c.window.record(this.#clock.now(), false);
    c.consecutive = 0;
  }

  /** Counts a failure on a closed circuit; true when the circuit should open. */
  #recordFailure(c: Circuit, failure: Pick<UpstreamFailure, 'kind' | 'status'>): boolean {
    const now = this.#clock.now();
    const o = this.#options;
    // Failures in a row count only within a window: one a day for a week is not an outage.
    if (c.lastFailure && now - c.lastFailure.at > o.windowMs) c.consecutive = 0;
    c.lastFailure = { kind: failure.kind, status: failure.status ?? null, at: now };
    // A late failure from a request admitted before the circuit opened changes nothing.
    if (c.retryAt !== null) return false;
    c.window.record(now, true);
    c.consecutive++;
    const { calls, failures } = c.window.totals(now);
    if (calls >= o.minimumCalls) return failures / calls >= o.failureRate;
    return c.consecutive >= o.consecutiveFailures;
  }

  #failed(c: Circuit, failure: Pick<UpstreamFailure, 'kind' | 'status'>): void {
    c.lastFailure = { kind: failure.kind, status: failure.status ?? null, at: this.#clock.now() };
  }

  /** A probe (or panic request) failed: a fresh cooldown, and a dead key stays dead. */
  #reopen(c: Circuit, cause: OpenCause, retryAfterMs: number | undefined): void {
    if (c.cause === 'dead') this.#open(c, 'dead', this.#options.deadProbeIntervalMs);
    else this.#open(c, cause, this.#cooldown(retryAfterMs));
  }

  #permit(
    entry: ChannelEntry,
    modelCircuit: Circuit | undefined,
    role: ChannelRole,
    modelProbe: boolean,
  ): Permit {
    const channel = entry.circuit;
    let settled = false;
    const once = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    const freeSlots = (): void => {
      if (role === 'probe') channel.probeStartedAt = null;
      if (modelProbe && modelCircuit) modelCircuit.probeStartedAt = null;
    };
    /** The channel answered: it can be reached, whatever the answer said about the model. */
    const channelAnswered = (closes: boolean): void => {
      if (role === 'normal') this.#recordOk(channel);
      else if (role !== 'bypass') {
        if (closes || channel.cause === 'connection') this.#close(channel);
        else this.#reopen(channel, channel.cause ?? 'failures', undefined);
      }
    };
    const success = (): void => {
      channelAnswered(true);
      if (!modelCircuit) return;
      if (modelProbe) this.#close(modelCircuit);
      else this.#recordOk(modelCircuit);
    };
    return {
      probe: role === 'probe' || modelProbe,
      panic: role === 'panic' || role === 'bypass',
      success: () => once(success),
      release: () => once(freeSlots),
      failure: (failure, committed = false) =>
        once(() => {
          const target = attributeFailure(failure, committed);
          if (target === 'none') {
            if (failure.kind === 'aborted') freeSlots();
            else success();
            return;
          }
          if (target === 'model' && modelCircuit) {
            channelAnswered(false);
            this.#modelFailed(entry, modelCircuit, failure, modelProbe);
            return;
          }
          if (modelProbe && modelCircuit) modelCircuit.probeStartedAt = null;
          this.#channelFailed(channel, failure, target, role);
        }),
    };
  }

  #modelFailed(
    entry: ChannelEntry,
    c: Circuit,
    failure: AttributedFailure & Pick<UpstreamFailure, 'retryAfterMs'>,
    wasProbe: boolean,
  ): void {
    const cause: OpenCause = failure.kind === 'model' ? 'not-served' : 'failures';
    if (wasProbe) {
      this.#failed(c, failure);
      this.#open(c, cause, this.#cooldown(failure.retryAfterMs));
    } else if (this.#recordFailure(c, failure)) {
      this.#open(c, cause, this.#cooldown(failure.retryAfterMs));
    } else return;
    if (cause === 'failures') this.#openAcrossModels(entry, failure);
  }

  /** Several models failing on one channel: the channel itself is in trouble. */
  #openAcrossModels(entry: ChannelEntry, failure: Pick<UpstreamFailure, 'kind' | 'status'>): void {
    const channel = entry.circuit;
    if (channel.retryAt !== null) return;
    const failing: string[] = [];
    for (const [model, c] of entry.models) {
      if (c.retryAt !== null && c.cause === 'failures') failing.push(model);
    }
    if (failing.length < this.#options.modelsToOpenChannel) return;
    this.#failed(channel, failure);
    this.#open(channel, 'models', this.#options.cooldownMs);
    channel.models = failing;
  }

  #channelFailed(
    c: Circuit,
    failure: AttributedFailure & Pick<UpstreamFailure, 'retryAfterMs'>,
    target: 'connection' | 'dead' | 'model',
    role: ChannelRole,
  ): void {
    const o = this.#options;
    if (target === 'dead') {
      this.#failed(c, failure);
      this.#open(c, 'dead', Math.max(o.deadProbeIntervalMs, this.#cooldown(failure.retryAfterMs)));
      return;
    }
    // Without a model to blame, a model failure lands here too (callers that name no model).
    const cause: OpenCause = target === 'connection' ? 'connection' : 'failures';
    if (role === 'bypass') return;
    if (role === 'probe' || role === 'panic') {
      this.#failed(c, failure);
      this.#reopen(c, cause, failure.retryAfterMs);
      return;
    }
    const trips = this.#recordFailure(c, failure);
    if (
      trips ||
      (cause === 'connection' && c.retryAt === null && c.consecutive >= o.connectFailures)
    ) {
      this.#open(c, cause, this.#cooldown(failure.retryAfterMs));
    }
  }
}
