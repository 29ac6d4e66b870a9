import type { Price } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { KeyRecord, Reservation, Store, UsageRow, UsageSource } from '../store/types.ts';
import type { RequestRecord } from '../types.ts';
import type { Billable } from '../usage/pricing.ts';
import { costMicros } from '../usage/pricing.ts';

export interface SettleInput {
  readonly status: number;
  readonly usage: Billable;
  readonly source: UsageSource;
  readonly errorCode?: string | null;
  readonly detail?: Record<string, unknown>;
}

/**
 * Exactly one usage row and one quota settlement per request, however the request ends:
 * success, upstream failure, client hang-up or a bug. A second finish() is ignored.
 */
export class Settlement {
  #done = false;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #key: KeyRecord;
  readonly #reservation: Reservation | null;
  readonly #record: RequestRecord;
  readonly #requestId: string;
  readonly #endpoint: string;
  readonly #now: () => number;
  price: Price | undefined;

  constructor(args: {
    store: Store;
    logger: Logger;
    key: KeyRecord;
    reservation: Reservation | null;
    record: RequestRecord;
    requestId: string;
    endpoint: string;
    price: Price | undefined;
    now: () => number;
  }) {
    this.#store = args.store;
    this.#logger = args.logger;
    this.#key = args.key;
    this.#reservation = args.reservation;
    this.#record = args.record;
    this.#requestId = args.requestId;
    this.#endpoint = args.endpoint;
    this.price = args.price;
    this.#now = args.now;
  }

  get finished(): boolean {
    return this.#done;
  }

  /**
   * Resolves once the row is committed (group commit, see Store.settleSoon); never rejects:
   * a failed write is logged and the hold given back. A JSON answer waits for it, so a served
   * request always has its row; a stream's end does not need to.
   */
  finish(input: SettleInput): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    const rec = this.#record;
    rec.usageWritten = true;
    const cost =
      (input.status >= 200 && input.status < 300) || input.source === 'partial'
        ? costMicros(this.price, input.usage)
        : 0;
    rec.status ??= input.status;
    rec.promptTokens = input.usage.promptTokens;
    rec.completionTokens = input.usage.completionTokens;
    rec.costMicros = cost;
    rec.source = input.source;
    if (input.errorCode) rec.errorCode = input.errorCode;
    const errorMessage = input.status >= 400 ? (rec.errorMessage ?? null) : null;
    const usage: UsageRow = {
      requestId: this.#requestId,
      keyId: this.#key.id,
      keyName: this.#key.name,
      endpoint: this.#endpoint,
      model: rec.model ?? null,
      upstreamModel: rec.upstreamModel ?? null,
      channel: rec.channel ?? null,
      status: input.status,
      promptTokens: input.usage.promptTokens,
      completionTokens: input.usage.completionTokens,
      cacheReadTokens: input.usage.cacheReadTokens ?? 0,
      cacheWrite5mTokens: input.usage.cacheWrite5mTokens ?? 0,
      cacheWrite1hTokens: input.usage.cacheWrite1hTokens ?? 0,
      reasoningTokens: input.usage.reasoningTokens ?? 0,
      costMicros: cost,
      latencyMs: this.#now() - rec.startedAt,
      ttfbMs: rec.ttfbMs ?? null,
      source: input.source,
      errorCode: input.errorCode ?? null,
      errorMessage,
      detail: { ...input.detail, ...(rec.attempts !== undefined && { attempts: rec.attempts }) },
    };
    return this.#store.settleSoon(this.#reservation, usage).catch((err: unknown) => {
      // The response may already be out; losing the row must at least be loud, and the hold
      // must not outlive the request (it would shrink the key's quota until a restart).
      this.#logger.error({ err, requestId: this.#requestId }, 'failed to write usage row');
      if (this.#reservation) {
        try {
          this.#store.release(this.#reservation);
        } catch (releaseErr) {
          this.#logger.error(
            { err: releaseErr, requestId: this.#requestId },
            'failed to release quota hold',
          );
        }
      }
    });
  }
}
