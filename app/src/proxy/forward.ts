import type { Context } from 'hono';
import type { FormData } from 'undici';
import { RelayError } from '../errors.ts';
import type { Endpoint } from '../providers/types.ts';
import { adapterFor } from '../providers/registry.ts';
import type { Route } from '../routing/channels.ts';
import { orderRoutes, routesFor } from '../routing/channels.ts';
import { matchesAny } from '../routing/patterns.ts';
import type { AppDeps, AppEnv } from '../types.ts';
import { costMicros, priceFor } from '../usage/pricing.ts';
import { forwardHeaders } from './headers.ts';
import { Settlement } from './settlement.ts';
import { relayJson } from './json.ts';
import { relayStream } from './stream.ts';
import type { AttemptFailure } from './upstream-errors.ts';
import { failureFromStatus, failureFromTransport, readBounded } from './upstream-errors.ts';
import type { UpstreamResponse } from './upstream.ts';
import { UpstreamFailure, createUpstreamClient } from './upstream.ts';

export type UpstreamPayload =
  { readonly json: Record<string, unknown> } | { readonly form: FormData };

/** One client request to relay: what the route handler knows once it has parsed the body. */
export interface ProxyJob {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly stream: boolean;
  /** Whether the client itself asked for the usage chunk (`stream_options.include_usage`). */
  readonly clientWantsUsage: boolean;
  /** The upstream body for one attempt: JSON rewritten for that channel, or a raw body. */
  readonly body: (route: Route) => Promise<UpstreamPayload>;
  /** Tokens to hold quota for before the call. */
  readonly estimate: { readonly promptTokens: number; readonly completionTokens: number };
  /** Extra billable units known up front (image count). */
  readonly images?: number;
  readonly detail?: Record<string, unknown>;
  /** Rewrites a successful JSON answer before the client sees it (images are stored, URLs replaced). */
  readonly transformJson?: (
    json: unknown,
    route: Route,
  ) => Promise<{ body: unknown; images?: number }>;
}

export interface OpenedUpstream {
  readonly route: Route;
  readonly res: UpstreamResponse;
}

const defaultClient = createUpstreamClient();

export function modelNotFound(model: string): RelayError {
  return new RelayError(
    404,
    'model_not_found',
    `The model \`${model}\` does not exist or your key does not have access to it.`,
    { param: 'model' },
  );
}

/**
 * The relay's one proxy path: pick channels, hold quota, try channels in order until one
 * answers, then hand the answer to the JSON or SSE relayer, which settles usage exactly once.
 */
export async function proxy(c: Context<AppEnv>, deps: AppDeps, job: ProxyJob): Promise<Response> {
  const key = c.get('key');
  const record = c.get('record');
  const requestId = c.get('requestId');
  const now = deps.now ?? Date.now;
  record.model = job.model;

  if (!matchesAny(key.models, job.model)) throw modelNotFound(job.model);
  const routes = orderRoutes(routesFor(deps.config.channels, job.model), deps.random);
  if (routes.length === 0) throw modelNotFound(job.model);

  const price = priceFor(deps.config.prices, job.model, routes[0]?.upstreamModel);
  const hold = costMicros(price, { ...job.estimate, images: job.images ?? 0 });
  const reservation = deps.store.reserve(key.id, hold);
  if (!reservation) {
    const remaining =
      key.quotaMicros === null ? 0 : key.quotaMicros - key.usedMicros - key.reservedMicros;
    throw new RelayError(
      429,
      'insufficient_quota',
      `This key's remaining quota ($${(Math.max(0, remaining) / 1e6).toFixed(4)}) cannot cover this request ` +
        `(up to $${(hold / 1e6).toFixed(4)}). Top up the key or lower max_tokens.`,
      { type: 'insufficient_quota' },
    );
  }
  const settlement = new Settlement({
    store: deps.store,
    logger: deps.logger,
    key,
    reservation,
    record,
    requestId,
    endpoint: job.endpoint,
    price,
    now,
  });

  // The client hanging up aborts whatever upstream call is in flight.
  const abort = new AbortController();
  const clientSignal = c.req.raw.signal;
  const onClientAbort = () => abort.abort(new UpstreamFailure('aborted', 'client went away'));
  if (clientSignal.aborted) onClientAbort();
  else clientSignal.addEventListener('abort', onClientAbort, { once: true });

  try {
    const opened = await openUpstream(c, deps, job, routes, abort.signal);
    if ('failure' in opened) {
      settlement.finish({
        status: opened.failure.error.status,
        usage: { promptTokens: 0, completionTokens: 0 },
        source: 'none',
        errorCode: opened.failure.error.code,
      });
      throw opened.failure.error;
    }
    record.channel = opened.route.channel.name;
    record.upstreamModel = opened.route.upstreamModel;
    settlement.price = priceFor(deps.config.prices, job.model, opened.route.upstreamModel);
    const isSse = (opened.res.headers.get('content-type') ?? '').includes('text/event-stream');
    const args = { c, deps, job, opened, settlement, abort, clientSignal, onClientAbort };
    return job.stream && isSse ? await relayStream(args) : await relayJson(args);
  } catch (err) {
    clientSignal.removeEventListener('abort', onClientAbort);
    if (!settlement.finished) {
      const status = err instanceof RelayError ? err.status : 500;
      settlement.finish({
        status,
        usage: { promptTokens: 0, completionTokens: 0 },
        source: 'none',
        errorCode: err instanceof RelayError ? err.code : 'server_error',
      });
    }
    throw err;
  }
}

/** Tries each route once, in order, until one answers 2xx; keeps the most telling failure. */
async function openUpstream(
  c: Context<AppEnv>,
  deps: AppDeps,
  job: ProxyJob,
  routes: readonly Route[],
  signal: AbortSignal,
): Promise<OpenedUpstream | { failure: AttemptFailure }> {
  const client = deps.upstream ?? defaultClient;
  const record = c.get('record');
  const headers = forwardHeaders(c.req.raw.headers);
  let last: AttemptFailure | undefined;
  record.attempts = 0;
  for (const route of routes) {
    record.attempts++;
    const body = await job.body(route);
    const req = adapterFor(route.channel.type).buildRequest({
      channel: route.channel,
      endpoint: job.endpoint,
      headers,
      ...body,
    });
    let res: UpstreamResponse;
    try {
      res = await client.send(req, { signal, timeouts: route.channel.timeouts });
    } catch (err) {
      last = failureFromTransport(
        err instanceof UpstreamFailure ? err : new UpstreamFailure('network', String(err)),
      );
      deps.logger.warn(
        { requestId: c.get('requestId'), channel: route.channel.name, kind: last.kind },
        'upstream attempt failed',
      );
      if (!last.retryable) break;
      continue;
    }
    if (res.status >= 200 && res.status < 300) return { route, res };
    const text = await readBounded(res.body);
    last = failureFromStatus(res.status, res.headers, text, route.channel.name);
    deps.logger.warn(
      {
        requestId: c.get('requestId'),
        channel: route.channel.name,
        upstreamStatus: res.status,
        kind: last.kind,
      },
      'upstream attempt failed',
    );
    if (!last.retryable) break;
  }
  return { failure: last ?? { retryable: false, kind: 'none', error: modelNotFound(job.model) } };
}
