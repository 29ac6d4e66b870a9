import { Circuit, type CircuitSnapshot, type CircuitState, type OpenCause } from './circuit.ts';
import type { Clock } from './clock.ts';
import {
  CircuitPermit,
  type ChannelRole,
  type ChannelTarget,
  type Permit,
  type PermitFailure,
  type PermitJudge,
} from './permit.ts';

export type { CircuitSnapshot, CircuitState, OpenCause } from './circuit.ts';
export type { Permit, PermitFailure } from './permit.ts';

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
  /** How often a dead key (401, a key-invalid answer, no quota) gets a probe. */
  deadProbeIntervalMs: number;
  /** A probe passes at its first content; one that never reports back frees its slot after this long. */
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

interface ChannelEntry {
  readonly circuit: Circuit;
  readonly models: Map<string, Circuit>;
}

export type Admission =
  | { admitted: true; permit: Permit }
  | { admitted: false; state: CircuitState; dead: boolean; retryAt: number; refused: Refusal };

/**
 * Why a request finds no channel: the model's own circuits are cooling down, the channels are
 * failing and each already has its one panic request in flight, every channel's key or
 * account is rejected, or no channel serves the model (each said so, e.g. with a 404).
 */
export type Refusal = 'model' | 'channel' | 'dead' | 'not-served';

/**
 * How one channel stands for one model, for planning. `by: 'model'` is the model's own circuit
 * (nothing gets past it); `by: 'channel'` is the whole channel's, which panic routing may pass.
 */
export type Standing =
  | { admitted: true }
  | { admitted: false; by: 'model'; retryAt: number; cause: OpenCause }
  | {
      admitted: false;
      by: 'channel';
      retryAt: number;
      cause: OpenCause;
      /** Opened across models, none of them this one. */
      otherModelsOnly: boolean;
      /** When the channel last failed: panic routing tries the least recent first. */
      failedAt: number;
      /** A panic pass would have to wait for the one in flight, until about then; null: free. */
      panicBusyUntil: number | null;
    };

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
    const mc = model === undefined ? undefined : entry.models.get(model);
    const mv = mc?.verdict();
    if (mc && mv && !mv.ok) {
      return { admitted: false, by: 'model', retryAt: mv.retryAt, cause: mc.cause ?? 'failures' };
    }
    const c = entry.circuit;
    const cv = c.verdict();
    if (cv.ok) return { admitted: true };
    return {
      admitted: false,
      by: 'channel',
      retryAt: cv.retryAt,
      cause: c.cause ?? 'failures',
      otherModelsOnly: otherModelsOnly(c, model),
      failedAt: c.lastFailure?.at ?? c.openedAt ?? 0,
      panicBusyUntil: c.slotTaken() ? c.slotFreeAt() : null,
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
   * is judged by the outcome as if it were probed, so one success closes it, and takes one
   * panic request at a time (the probe's slot): a dead channel must not receive the whole
   * request rate.
   */
  acquire(channel: string, model?: string, options: { panic?: boolean } = {}): Admission {
    const now = this.#clock.now();
    const entry = this.#entry(channel);
    const modelCircuit = model === undefined ? undefined : this.#modelCircuit(entry, model, now);
    const mv = modelCircuit?.verdict() ?? { ok: true as const, probe: false };
    if (!mv.ok) {
      const mc = modelCircuit as Circuit;
      return refusal(mc, mv.retryAt, mc.cause === 'not-served' ? 'not-served' : 'model');
    }
    const c = entry.circuit;
    const cv = c.verdict();
    let role: ChannelRole = 'normal';
    if (!cv.ok) {
      if (!options.panic) return refusal(c, cv.retryAt, channelRefusal(c));
      role = otherModelsOnly(c, model) ? 'bypass' : 'panic';
      if (role === 'panic') {
        if (c.slotTaken()) return refusal(c, c.slotFreeAt(), channelRefusal(c));
        c.probeStartedAt = now;
      }
    } else if (cv.probe) {
      role = 'probe';
      c.probeStartedAt = now;
    }
    if (mv.probe) (modelCircuit as Circuit).probeStartedAt = now;
    const grant = { channel: c, model: modelCircuit, role, modelProbe: mv.probe, startedAt: now };
    return { admitted: true, permit: new CircuitPermit(grant, this.#judge(entry)) };
  }

  /**
   * Channel circuits, and channel+model circuits that are open or saw failures in the window
   * (healthy ones are left out: there is one per model in use).
   */
  snapshot(): CircuitSnapshot[] {
    const out: CircuitSnapshot[] = [];
    for (const entry of this.#channels.values()) {
      out.push(entry.circuit.snapshot());
      for (const c of entry.models.values()) {
        const snap = c.snapshot();
        if (snap.state !== 'closed' || snap.failuresInWindow > 0) out.push(snap);
      }
    }
    return out;
  }

  #entry(channel: string): ChannelEntry {
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = {
        circuit: new Circuit(channel, null, this.#options, this.#clock),
        models: new Map(),
      };
      this.#channels.set(channel, entry);
    }
    return entry;
  }

  #modelCircuit(entry: ChannelEntry, model: string, now: number): Circuit {
    let circuit = entry.models.get(model);
    if (!circuit) {
      if (this.#modelCircuits >= this.#options.maxModelCircuits) this.#evict(now);
      circuit = new Circuit(entry.circuit.channel, model, this.#options, this.#clock);
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
    const closedFirst = (c: Circuit) => (c.state() === 'closed' ? 0 : 1);
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

  #judge(entry: ChannelEntry): PermitJudge {
    return {
      modelFailed: (c, failure, wasProbe) => this.#modelFailed(entry, c, failure, wasProbe),
      channelFailed: (failure, target, role) =>
        this.#channelFailed(entry.circuit, failure, target, role),
    };
  }

  #modelFailed(entry: ChannelEntry, c: Circuit, failure: PermitFailure, wasProbe: boolean): void {
    const cause: OpenCause = failure.kind === 'model' ? 'not-served' : 'failures';
    if (wasProbe) c.reopen(failure, cause, failure.retryAfterMs);
    else if (c.recordFailure(failure)) c.openFor(cause, failure.retryAfterMs);
    else return;
    if (cause === 'failures') this.#openAcrossModels(entry, failure);
  }

  /** Several models that worked there failing on one channel: the channel itself is in trouble. */
  #openAcrossModels(entry: ChannelEntry, failure: PermitFailure): void {
    const channel = entry.circuit;
    if (channel.retryAt !== null) return;
    const failing: string[] = [];
    for (const [model, c] of entry.models) {
      if (c.cause === 'failures' && c.proven && c.tripped()) failing.push(model);
    }
    if (failing.length < this.#options.modelsToOpenChannel) return;
    channel.noteFailure(failure);
    channel.open('models', this.#options.cooldownMs);
    channel.models = failing;
  }

  #channelFailed(
    c: Circuit,
    failure: PermitFailure,
    target: ChannelTarget,
    role: ChannelRole,
  ): void {
    if (target === 'dead') {
      c.noteFailure(failure);
      c.openDead(failure.retryAfterMs);
      return;
    }
    // Without a model to blame, a model failure lands here too (callers that name no model).
    const cause: OpenCause = target === 'connection' ? 'connection' : 'failures';
    // Passing a channel opened by other models: only news that it cannot be reached counts.
    if (role === 'bypass' && cause !== 'connection') return;
    if (role === 'probe' || role === 'panic' || role === 'bypass') {
      c.reopen(failure, cause, failure.retryAfterMs);
      return;
    }
    const trips = c.recordFailure(failure);
    const fast = cause === 'connection' && c.consecutive >= this.#options.connectFailures;
    if (c.retryAt === null && (trips || fast)) c.openFor(cause, failure.retryAfterMs);
  }
}

function refusal(c: Circuit, retryAt: number, refused: Refusal): Admission {
  return { admitted: false, state: c.state(), dead: c.cause === 'dead', retryAt, refused };
}

/** A channel circuit of callers that name no model is that model's own. */
function channelRefusal(c: Circuit): Refusal {
  if (c.cause === 'dead') return 'dead';
  return c.cause === 'failures' ? 'model' : 'channel';
}

function otherModelsOnly(c: Circuit, model: string | undefined): boolean {
  return c.cause === 'models' && model !== undefined && !c.models.includes(model);
}
