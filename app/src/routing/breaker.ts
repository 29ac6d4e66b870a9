import type { Clock } from './clock.ts';
import type { FailureKind, UpstreamFailure } from '../core/failure.ts';
import { failurePolicy } from './failure.ts';

export interface BreakerOptions {
  /** Failures within `windowMs` that open a circuit. */
  failureThreshold: number;
  windowMs: number;
  /** How long an opened circuit refuses before admitting a probe (unless Retry-After says). */
  cooldownMs: number;
  /** Ceiling for a Retry-After-driven cooldown. */
  maxCooldownMs: number;
  /** How often a dead key (401/403/no quota) gets a probe. */
  deadProbeIntervalMs: number;
  /** A probe that never reports back frees its slot after this long. */
  probeLeaseMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  failureThreshold: 5,
  windowMs: 60_000,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  deadProbeIntervalMs: 300_000,
  probeLeaseMs: 180_000,
};

export type CircuitState = 'closed' | 'open' | 'half-open';

interface Circuit {
  readonly channel: string;
  readonly model: string | null;
  failures: number[];
  openedAt: number | null;
  retryAt: number | null;
  dead: boolean;
  probeStartedAt: number | null;
  lastFailure: { kind: FailureKind; status: number | null; at: number } | null;
}

/** What an admin endpoint may show: no messages (upstream texts can echo key fragments). */
export interface CircuitSnapshot {
  channel: string;
  model: string | null;
  state: CircuitState;
  dead: boolean;
  failuresInWindow: number;
  openedAt: number | null;
  retryAt: number | null;
  probeInFlight: boolean;
  lastFailure: { kind: FailureKind; status: number | null; at: number } | null;
}

/** The right to send one request; settle it exactly once (later calls are ignored). */
export interface Permit {
  /** True when this request is the single half-open probe of a circuit. */
  readonly probe: boolean;
  /** The channel answered usefully (including a client-error answer). */
  success(): void;
  /** Records the failure where failurePolicy says it belongs. */
  failure(failure: Pick<UpstreamFailure, 'kind' | 'status' | 'retryAfterMs'>): void;
  /** Neither: e.g. the client left. Frees a probe slot without judging the channel. */
  release(): void;
}

export type Admission =
  | { admitted: true; permit: Permit }
  | { admitted: false; state: CircuitState; dead: boolean; retryAt: number };

type Verdict = { ok: true; probe: boolean } | { ok: false; retryAt: number };

/**
 * Circuit breakers per channel and per channel+model. A channel+model circuit exists only
 * once a model-specific failure happened, so the registry stays as small as the trouble.
 */
export class BreakerRegistry {
  readonly #clock: Clock;
  readonly #options: BreakerOptions;
  readonly #circuits = new Map<string, Circuit>();

  constructor(clock: Clock, options: Partial<BreakerOptions> = {}) {
    this.#clock = clock;
    this.#options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  }

  /** Would `acquire` admit now? No side effects: for planning. */
  peek(channel: string, model?: string): { admitted: boolean; retryAt: number | null } {
    const verdicts = this.#related(channel, model).map((c) => this.#verdict(c));
    const refused = verdicts.filter((v): v is { ok: false; retryAt: number } => !v.ok);
    if (refused.length === 0) return { admitted: true, retryAt: null };
    return { admitted: false, retryAt: Math.max(...refused.map((v) => v.retryAt)) };
  }

  acquire(channel: string, model?: string): Admission {
    const circuits = this.#related(channel, model);
    const verdicts = circuits.map((c) => this.#verdict(c));
    const refusedAt = verdicts.findIndex((v) => !v.ok);
    if (refusedAt >= 0) {
      const circuit = circuits[refusedAt] as Circuit;
      const retryAt = Math.max(...verdicts.map((v) => (v.ok ? 0 : v.retryAt)));
      return { admitted: false, state: this.#state(circuit), dead: circuit.dead, retryAt };
    }
    const probed = circuits.filter((_, i) => (verdicts[i] as { probe: boolean }).probe);
    const now = this.#clock.now();
    for (const c of probed) c.probeStartedAt = now;
    return { admitted: true, permit: this.#permit(channel, model, probed) };
  }

  snapshot(): CircuitSnapshot[] {
    const now = this.#clock.now();
    return [...this.#circuits.values()].map((c) => ({
      channel: c.channel,
      model: c.model,
      state: this.#state(c),
      dead: c.dead,
      failuresInWindow: c.failures.filter((t) => t > now - this.#options.windowMs).length,
      openedAt: c.openedAt,
      retryAt: c.retryAt,
      probeInFlight: this.#probeInFlight(c),
      lastFailure: c.lastFailure ? { ...c.lastFailure } : null,
    }));
  }

  #key(channel: string, model: string | null): string {
    return model === null ? `c:${channel}` : `m:${channel}\u0000${model}`;
  }

  #get(channel: string, model: string | null): Circuit {
    const key = this.#key(channel, model);
    let circuit = this.#circuits.get(key);
    if (!circuit) {
      circuit = {
        channel,
        model,
        failures: [],
        openedAt: null,
        retryAt: null,
        dead: false,
        probeStartedAt: null,
        lastFailure: null,
      };
      this.#circuits.set(key, circuit);
    }
    return circuit;
  }

  #related(channel: string, model: string | undefined): Circuit[] {
    const list = [this.#get(channel, null)];
    const modelCircuit =
      model === undefined ? undefined : this.#circuits.get(this.#key(channel, model));
    if (modelCircuit) list.push(modelCircuit);
    return list;
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
      return { ok: false, retryAt: (c.probeStartedAt as number) + this.#options.probeLeaseMs };
    }
    return { ok: true, probe: true };
  }

  #close(c: Circuit): void {
    c.failures = [];
    c.openedAt = null;
    c.retryAt = null;
    c.dead = false;
    c.probeStartedAt = null;
  }

  #open(c: Circuit, cooldownMs: number): void {
    const now = this.#clock.now();
    c.openedAt = now;
    c.retryAt = now + cooldownMs;
    c.probeStartedAt = null;
  }

  #cooldown(retryAfterMs: number | undefined): number {
    if (retryAfterMs === undefined) return this.#options.cooldownMs;
    return Math.min(Math.max(0, retryAfterMs), this.#options.maxCooldownMs);
  }

  #recordFailure(
    c: Circuit,
    failure: Pick<UpstreamFailure, 'kind' | 'status' | 'retryAfterMs'>,
    wasProbe: boolean,
    dead: boolean,
  ): void {
    const now = this.#clock.now();
    c.lastFailure = { kind: failure.kind, status: failure.status ?? null, at: now };
    if (dead) {
      c.dead = true;
      this.#open(
        c,
        Math.max(this.#options.deadProbeIntervalMs, this.#cooldown(failure.retryAfterMs)),
      );
      return;
    }
    if (wasProbe) {
      this.#open(
        c,
        c.dead ? this.#options.deadProbeIntervalMs : this.#cooldown(failure.retryAfterMs),
      );
      return;
    }
    // A late failure from a request admitted before the circuit opened changes nothing.
    if (this.#state(c) !== 'closed') return;
    c.failures = c.failures.filter((t) => t > now - this.#options.windowMs);
    c.failures.push(now);
    if (c.failures.length >= this.#options.failureThreshold) {
      this.#open(c, this.#cooldown(failure.retryAfterMs));
    }
  }

  #permit(channel: string, model: string | undefined, probed: Circuit[]): Permit {
    let settled = false;
    const once = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    const closeProbed = (): void => {
      for (const c of probed) this.#close(c);
    };
    return {
      probe: probed.length > 0,
      success: () => once(() => closeProbed()),
      release: () =>
        once(() => {
          for (const c of probed) c.probeStartedAt = null;
        }),
      failure: (failure) =>
        once(() => {
          const target = failurePolicy(failure).breaker;
          if (failure.kind === 'aborted') {
            for (const c of probed) c.probeStartedAt = null;
            return;
          }
          if (target === 'none') {
            closeProbed();
            return;
          }
          const circuit =
            target === 'model' && model !== undefined
              ? this.#get(channel, model)
              : this.#get(channel, null);
          for (const c of probed) {
            if (c === circuit) continue;
            // A model-specific answer proves the channel itself works; any other failure
            // says nothing about the model, so its probe slot is just handed back.
            if (target === 'model') this.#close(c);
            else c.probeStartedAt = null;
          }
          this.#recordFailure(circuit, failure, probed.includes(circuit), target === 'dead');
        }),
    };
  }
}
