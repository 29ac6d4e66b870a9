import type { Price } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { KeyRecord, Reservation, Store, UsageRow, UsageSource } from '../store/types.ts';
import type { InflightTracker, RequestRecord } from '../types.ts';
import type { LeaseKeeper, Renewable } from './lease-keeper.ts';
import type { Billable } from './pricing.ts';
import { costMicros } from './pricing.ts';

export interface SettleInput {
  readonly status: number;
  readonly usage: Billable;
  readonly source: UsageSource;
  readonly errorCode?: string | null;
  readonly detail?: Record<string, unknown>;
}

const NOTHING: Billable = { promptTokens: 0, completionTokens: 0 };

/**
 * The one usage row of an authenticated request and the quota it holds: made for every such
 * request before its handler runs, held by the proxy, and written exactly once however the
 * request ends (answered, refused before any upstream call, failed, hung up on, or a bug).
 * The seam a different store (a fleet's) plugs into.
 */
export class RequestUsage implements Renewable {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #key: KeyRecord;
  readonly #record: RequestRecord;
  readonly #requestId: string;
  readonly #endpoint: string;
  readonly #now: () => number;
  readonly #leases: LeaseKeeper;
  readonly #inflight: InflightTracker | undefined;
  #reservation: Reservation | null = null;
  /** A lease renewal under way: settling waits for it, since it changes the reservation. */
  #renewing: Promise<void> | null = null;
  #done = false;
  /** What the request's tokens cost; set once the route (and so the upstream model) is known. */
  price: Price | undefined;

  constructor(args: {
    store: Store;
    logger: Logger;
    key: KeyRecord;
    record: RequestRecord;
    requestId: string;
    endpoint: string;
    now: () => number;
    /** Renews the quota hold's lease while the request runs (one per app, shared). */
    leases: LeaseKeeper;
    /**
     * What a graceful shutdown waits for: the row's write is counted in it, since the answer
     * may go out before the row is committed.
     */
    inflight?: InflightTracker | undefined;
  }) {
    this.#store = args.store;
    this.#logger = args.logger;
    this.#key = args.key;
    this.#record = args.record;
    this.#requestId = args.requestId;
    this.#endpoint = args.endpoint;
    this.#now = args.now;
    this.#leases = args.leases;
    this.#inflight = args.inflight;
  }

  get finished(): boolean {
    return this.#done;
  }

  /**
   * Holds `micros` of the key's quota until the row is written; false when what is left cannot
   * cover it. A key without a quota holds nothing: no transaction before the upstream call. A
   * promise only when the ledger must be waited for; a hold decided at once (or a closed store,
   * which throws) is answered in the same turn.
   */
  hold(micros: number): boolean | Promise<boolean> {
    if (this.#key.quotaMicros === null || micros <= 0) return true;
    const { ledger } = this.#store;
    // Decided at once (SQLite's holds in memory): no promise, and the request goes on this turn.
    const decided = ledger.reserveNow?.(this.#key.id, micros, this.#leases.leaseMs);
    if (decided !== undefined) return this.#held(decided);
    return ledger
      .reserve(this.#key.id, micros, this.#leases.leaseMs)
      .then((reservation) => this.#held(reservation));
  }

  #held(reservation: Reservation | null): boolean {
    this.#reservation = reservation;
    if (reservation === null) return false;
    if (!this.#done) this.#leases.add(this);
    return true;
  }

  /** Called by the LeaseKeeper every lease/3 while the request runs. */
  renewLease(): void {
    const reservation = this.#reservation;
    if (this.#done || this.#renewing || !reservation) return;
    this.#renewing = this.#store.ledger.extend(reservation, this.#leases.leaseMs).then(
      (renewed) => {
        this.#renewing = null;
        if (renewed) this.#reservation = renewed;
        // Gone (its key deleted, or it expired while this process stalled): nothing to keep.
        else this.#leases.delete(this);
      },
      (err: unknown) => {
        this.#renewing = null;
        this.#logger.warn({ err, requestId: this.#requestId }, 'failed to renew quota hold');
      },
    );
  }

  /**
   * Writes the row and settles the hold (after a lease renewal under way, which changes it), and
   * counts the tokens in the key's TPM window; the lease is no longer renewed. With SQLite's
   * holds in memory the charge is decided at once (capped at the key's room and counted against
   * it before any other request can run); with rows (workers, DynamoDB) the hold keeps counting
   * until the settlement commits. Either way the answer may go out before this resolves without
   * letting a next request pass the quota. The write stays in flight (the app's InflightTracker)
   * until it is committed, so a graceful shutdown waits for it. Resolves once the row is
   * committed; never rejects: a failed write is logged and the hold given back, a failed token
   * count logged. A second call is ignored.
   */
  finish(input: SettleInput): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    this.#leases.delete(this);
    const rec = this.#record;
    const billed = (input.status >= 200 && input.status < 300) || input.source === 'partial';
    const cost = billed ? costMicros(this.price, input.usage) : 0;
    rec.status ??= input.status;
    rec.promptTokens = input.usage.promptTokens;
    rec.completionTokens = input.usage.completionTokens;
    rec.costMicros = cost;
    rec.source = input.source;
    if (input.errorCode) rec.errorCode = input.errorCode;
    const u = input.usage;
    const errorMessage = input.status >= 400 ? (rec.errorMessage ?? null) : null;
    const row: UsageRow = {
      requestId: this.#requestId,
      keyId: this.#key.id,
      keyName: this.#key.name,
      endpoint: this.#endpoint,
      model: rec.model ?? null,
      upstreamModel: rec.upstreamModel ?? null,
      channel: rec.channel ?? null,
      status: input.status,
      promptTokens: u.promptTokens,
      completionTokens: u.completionTokens,
      cacheReadTokens: u.cacheReadTokens ?? 0,
      cacheWrite5mTokens: u.cacheWrite5mTokens ?? 0,
      cacheWrite1hTokens: u.cacheWrite1hTokens ?? 0,
      reasoningTokens: u.reasoningTokens ?? 0,
      costMicros: cost,
      latencyMs: this.#now() - rec.startedAt,
      ttfbMs: rec.ttfbMs ?? null,
      source: input.source,
      errorCode: input.errorCode ?? null,
      errorMessage,
      detail: { ...input.detail, ...(rec.attempts !== undefined && { attempts: rec.attempts }) },
    };
    const tokens = u.promptTokens + u.completionTokens;
    const settle = () => this.#store.ledger.settle(this.#reservation, row);
    const settled = (this.#renewing ? this.#renewing.then(settle) : settle()).catch(
      (err: unknown) => {
        // The response may already be out; losing the row must at least be loud, and the hold
        // must not outlive the request (it would shrink the key's quota until its lease ends).
        this.#logger.error({ err, requestId: this.#requestId }, 'failed to write usage row');
        if (this.#reservation) return this.#release(this.#reservation);
      },
    );
    const done =
      this.#key.tpm === null || tokens <= 0
        ? settled
        : Promise.all([settled, this.#countTokens(tokens)]).then(() => undefined);
    this.#inflight?.add(done);
    return done;
  }

  #countTokens(tokens: number): Promise<void> {
    return this.#store.rates
      .addTokens(this.#key.id, tokens, this.#now())
      .catch((err: unknown) =>
        this.#logger.error({ err, requestId: this.#requestId }, 'failed to count tokens'),
      );
  }

  async #release(reservation: Reservation): Promise<void> {
    try {
      await this.#store.ledger.release(reservation);
    } catch (err) {
      this.#logger.error({ err, requestId: this.#requestId }, 'failed to release quota hold');
    }
  }

  /** The row of a request that ended without an upstream answer (refused, bad body, a bug). */
  finishUnanswered(status: number, errorCode: string | null): Promise<void> {
    return this.finish({ status, usage: NOTHING, source: 'none', errorCode });
  }
}
