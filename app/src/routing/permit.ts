import { attributeFailure, type AttributedFailure } from './attribution.ts';
import type { Circuit } from './circuit.ts';
import type { UpstreamFailure } from '../core/failure.ts';

export type PermitFailure = AttributedFailure & Pick<UpstreamFailure, 'retryAfterMs'>;

/** The right to send one request; settle it exactly once (later calls are ignored). */
export interface Permit {
  /** True when this request is the single half-open probe of a circuit. */
  readonly probe: boolean;
  /** True when the request passes an open channel circuit (panic routing, see acquire). */
  readonly panic: boolean;
  /**
   * One try only: a panic pass through a channel that failed on its own account. Retrying it
   * would multiply what a dead channel receives by the attempts per channel.
   */
  readonly singleTry: boolean;
  /**
   * Content is on its way to the client (the attempt's commit): a probe has passed, so its
   * circuits close now and other requests get in, however long the answer goes on streaming.
   * A failure after this counts as an ordinary failure of the model.
   */
  answered(): void;
  /** The channel answered usefully (including a client-error answer). */
  success(): void;
  /**
   * Records the failure where attributeFailure says it belongs. `committed`: content had
   * already reached the client (decides where a dropped connection counts).
   */
  failure(failure: PermitFailure, committed?: boolean): void;
  /** Neither: e.g. the client left. Frees a probe slot without judging the channel. */
  release(): void;
}

/** How a permit treats the channel circuit: judged as usual, as its probe, passed in panic, or not at all. */
export type ChannelRole = 'normal' | 'probe' | 'panic' | 'bypass';

export type ChannelTarget = 'connection' | 'dead' | 'model';

/** What the registry decides beyond one circuit: when circuits open, and a channel across models. */
export interface PermitJudge {
  modelFailed(model: Circuit, failure: PermitFailure, wasProbe: boolean): void;
  channelFailed(failure: PermitFailure, target: ChannelTarget, role: ChannelRole): void;
}

export interface PermitGrant {
  readonly channel: Circuit;
  readonly model: Circuit | undefined;
  readonly role: ChannelRole;
  /** This request is the model circuit's half-open probe. */
  readonly modelProbe: boolean;
  /** When the permit took its slots: it frees them only while they still hold this time. */
  readonly startedAt: number;
}

/** One request's permit: settles once, on the circuits it was granted on. */
export class CircuitPermit implements Permit {
  readonly probe: boolean;
  readonly panic: boolean;
  readonly singleTry: boolean;
  readonly #grant: PermitGrant;
  readonly #judge: PermitJudge;
  #settled = false;
  /** answered() came first: the channel and any probe were judged then. */
  #passed = false;

  constructor(grant: PermitGrant, judge: PermitJudge) {
    this.#grant = grant;
    this.#judge = judge;
    this.probe = grant.role === 'probe' || grant.modelProbe;
    this.panic = grant.role === 'panic' || grant.role === 'bypass';
    this.singleTry = grant.role === 'panic';
  }

  answered(): void {
    if (this.#settled || this.#passed) return;
    this.#channelAnswered();
    const { model, modelProbe } = this.#grant;
    if (modelProbe && model) model.close();
    if (model) model.proven = true;
    this.#passed = true;
  }

  success(): void {
    if (!this.#settle()) return;
    if (this.#grant.model) this.#grant.model.proven = true;
    this.#succeeded();
  }

  release(): void {
    if (this.#settle()) this.#freeSlots();
  }

  failure(failure: PermitFailure, committed = false): void {
    if (!this.#settle()) return;
    const { model, modelProbe, role } = this.#grant;
    const target = attributeFailure(failure, committed);
    if (target === 'none') {
      if (failure.kind === 'aborted') this.#freeSlots();
      else this.#succeeded();
      return;
    }
    if (target === 'model' && model) {
      this.#channelAnswered(failure);
      this.#judge.modelFailed(model, failure, modelProbe && !this.#passed);
      return;
    }
    if (modelProbe && model) this.#freeSlot(model);
    const passedRole = role === 'bypass' ? role : 'normal';
    this.#judge.channelFailed(failure, target, this.#passed ? passedRole : role);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }

  #succeeded(): void {
    this.#channelAnswered();
    const { model, modelProbe } = this.#grant;
    if (!model) return;
    if (modelProbe && !this.#passed) model.close();
    else model.recordOk();
  }

  /** The channel answered: it can be reached, whatever the answer said about the model. */
  #channelAnswered(failure?: AttributedFailure): void {
    if (this.#passed) return;
    const { channel, role } = this.#grant;
    if (role === 'normal') channel.recordOk();
    else if (role === 'bypass') return;
    else if (!failure || channel.cause === 'connection') channel.close();
    else channel.reopen(failure, channel.cause ?? 'failures', undefined);
  }

  // A probe whose lease ran out may have been followed by another: its slot is not ours to free.
  #freeSlot(c: Circuit): void {
    if (c.probeStartedAt === this.#grant.startedAt) c.probeStartedAt = null;
  }

  #freeSlots(): void {
    const { channel, model, modelProbe, role } = this.#grant;
    if (role === 'probe' || role === 'panic') this.#freeSlot(channel);
    if (modelProbe && model) this.#freeSlot(model);
  }
}
