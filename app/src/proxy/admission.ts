import type { Price } from '../config.ts';
import type { ProxyJob } from '../core/job.ts';
import { RelayError } from '../errors.ts';
import { adapterFor } from '../providers/registry.ts';
import { dialectFor } from '../providers/types.ts';
import type { Route } from '../routing/channels.ts';
import { routesFor } from '../routing/channels.ts';
import { matchesAny } from '../routing/patterns.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { KeyRecord } from '../store/types.ts';
import { holdMicros, priceFor } from '../usage/pricing.ts';
import type { RequestUsage } from '../usage/request-usage.ts';

/** A route as the failover runner plans it. */
export type Candidate = Route & {
  readonly name: string;
  readonly priority: number;
  readonly weight: number;
};

export function modelNotFound(model: string): RelayError {
  return new RelayError(
    404,
    'model_not_found',
    `The model \`${model}\` does not exist or your key does not have access to it.`,
    { param: 'model' },
  );
}

/**
 * The channels that may serve this job: the key must allow the model, and a channel must serve
 * it and be able to speak the operation (natively or translated). A request that may be
 * translated is parsed into neutral form now: content no other dialect can take leaves only the
 * channels of the client's own dialect, and is a 400 before anything is held or sent when none
 * is left.
 */
export function admit(rt: RelayRuntime, key: KeyRecord, job: ProxyJob): Candidate[] {
  if (!matchesAny(key.models, job.model)) throw modelNotFound(job.model);
  let routes = routesFor(rt.config.channels, job.model, rt.channelState.isOn).filter((r) =>
    adapterFor(r.channel.type).serves(job.operation, job.dialect.name),
  );
  if (routes.length === 0) throw modelNotFound(job.model);
  const native = (r: Route) =>
    dialectFor(adapterFor(r.channel.type), r.upstreamModel) === job.dialect.name;
  if (job.chat && !routes.every(native)) {
    try {
      job.chat();
    } catch (err) {
      // What only the client's own dialect can say still goes to the channels that speak it.
      if (!(err instanceof RelayError) || !routes.some(native)) throw err;
      routes = routes.filter(native);
    }
  }
  return routes.map((r) => ({
    ...r,
    name: r.channel.name,
    priority: r.channel.priority,
    weight: r.channel.weight,
  }));
}

/** The price of the job's tokens through this route. */
export function priceOf(
  rt: RelayRuntime,
  job: ProxyJob,
  upstreamModel: string | undefined,
): Price | undefined {
  return priceFor(rt.config.prices, job.model, upstreamModel);
}

/**
 * Holds what the job may cost at most; a key that cannot cover it gets a 429 it can act on. A
 * hold decided at once returns nothing (no promise) or throws; otherwise the promise of the hold.
 */
export function holdQuota(
  rt: RelayRuntime,
  key: KeyRecord,
  usage: RequestUsage,
  job: ProxyJob,
): Promise<void> | undefined {
  const hold = holdMicros(usage.price, { ...job.estimate, images: job.images ?? 0 });
  const held = usage.hold(hold);
  if (held === true) return undefined;
  if (held === false) return refuse(rt, key, hold);
  return held.then((ok) => (ok ? undefined : refuse(rt, key, hold)));
}

/** The 429 for a hold the key cannot cover, with what it has left now (read again). */
async function refuse(rt: RelayRuntime, key: KeyRecord, hold: number): Promise<never> {
  const fresh = (await rt.store.keys.get(key.name)) ?? key;
  const left =
    fresh.quotaMicros === null
      ? 0
      : Math.max(0, fresh.quotaMicros - fresh.usedMicros - fresh.reservedMicros);
  throw new RelayError(
    429,
    'insufficient_quota',
    `This key's remaining quota ($${(left / 1e6).toFixed(4)}) cannot cover this request (up to $${(hold / 1e6).toFixed(4)}). ` +
      'Top up the key or lower max_tokens.',
    { type: 'insufficient_quota' },
  );
}
