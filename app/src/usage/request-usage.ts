import type { Price } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { KeyRecord, Reservation, Store, UsageRow, UsageSource } from '../store/types.ts';
import type { RequestRecord } from '../types.ts';
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
export class RequestUsage {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #key: KeyRecord;
  readonly #record: RequestRecord;
  readonly #requestId: string;
  readonly #endpoint: string;
  readonly #now: () => number;
  readonly #leaseMs: number;
  #reservation: Reservation | null = null;
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
    /** How long the quota hold outlives a process that dies holding it. */
    leaseMs: number;
  }) {
    this.#store = args.store;
    this.#logger = args.logger;
    this.#key = args.key;
    this.#record = args.record;
    this.#requestId = args.requestId;
    this.#endpoint = args.endpoint;
    this.#now = args.now;
    this.#leaseMs = args.leaseMs;
  }

  get finished(): boolean {
    return this.#done;
  }

  /**
   * Holds `micros` of the key's quota until the row is written; false when what is left cannot
   * cover it. A key without a quota holds nothing: no transaction before the upstream call.
   */
  async hold(micros: number): Promise<boolean> {
    if (this.#key.quotaMicros === null || micros <= 0) return true;
    this.#reservation = await this.#store.ledger.reserve(this.#key.id, micros, this.#leaseMs);
    return this.#reservation !== null;
  }

  /**
   * Writes the row and settles the hold, and counts the tokens in the key's TPM window. Resolves
   * once the row is committed (QuotaLedger.settle; SQLite's group-commits); never rejects: a failed write is logged and the hold given back. A JSON
   * answer waits for it, so a served request always has its row. A second call is ignored.
   */
  finish(input: SettleInput): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
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
    const settled = this.#store.ledger.settle(this.#reservation, row).catch((err: unknown) => {
      // The response may already be out; losing the row must at least be loud, and the hold
      // must not outlive the request (it would shrink the key's quota until its lease ends).
      this.#logger.error({ err, requestId: this.#requestId }, 'failed to write usage row');
      if (this.#reservation) return this.#release(this.#reservation);
    });
    if (this.#key.tpm === null || tokens <= 0) return settled;
    const counted = this.#store.rates
      .addTokens(this.#key.id, tokens, this.#now())
      .catch((err: unknown) =>
        this.#logger.error({ err, requestId: this.#requestId }, 'failed to count tokens'),
      );
    return Promise.all([settled, counted]).then(() => undefined);
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
