import type { Context } from 'hono';
import type { FormData } from 'undici';
import { RelayError } from '../errors.ts';
import type { Endpoint, UpstreamRequest } from '../providers/types.ts';
import { adapterFor } from '../providers/registry.ts';
import type { Route } from '../routing/channels.ts';
import { routesFor } from '../routing/channels.ts';
import { runWithFailover } from '../routing/failover.ts';
import type {
  AttemptContext,
  AttemptResult,
  FailoverEvent,
  FailoverResult,
} from '../routing/failover.ts';
import { UpstreamError, classifyHttpFailure } from '../routing/failure.ts';
import { matchesAny } from '../routing/patterns.ts';
import { SSE_HEADERS } from '../streaming/sse.ts';
import { startHeartbeat } from '../streaming/heartbeat.ts';
import { upstreamWaits } from '../timing.ts';
import type { AppEnv } from '../types.ts';
import type { RelayRuntime } from '../runtime.ts';
import { estimateTokens, usageFromPayload } from '../usage/extract.ts';
import { holdMicros, priceFor } from '../usage/pricing.ts';
import { clientErrorFor } from './client-error.ts';
import { ClientStream } from './client-stream.ts';
import { forwardHeaders } from './headers.ts';
import { Settlement } from './settlement.ts';
import { errorEvent, relayStreamAttempt } from './stream-attempt.ts';
import type { StreamTally } from './stream-attempt.ts';

export type UpstreamPayload =
  { readonly json: Record<string, unknown> } | { readonly form: FormData };

/** One client request to relay: what the route handler knows once it has parsed the body. */
export interface ProxyJob {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly stream: boolean;
  /** Whether the client itself asked for the usage chunk (`stream_options.include_usage`). */
  readonly clientWantsUsage: boolean;
  /** The upstream body for one attempt: JSON rewritten for that channel, or a fresh multipart form. */
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

interface JsonAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly json: unknown;
}

type Candidate = Route & {
  readonly name: string;
  readonly priority: number;
  readonly weight: number;
};

const MAX_JSON_BYTES = 256 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

export function modelNotFound(model: string): RelayError {
  return new RelayError(
    404,
    'model_not_found',
    `The model \`${model}\` does not exist or your key does not have access to it.`,
    {
      param: 'model',
    },
  );
}

/**
 * The relay's one proxy path: check the model, hold quota, then let the failover runner try
 * channels (retries with backoff, breakers, time budget) until one answers. A JSON answer is
 * returned whole; a stream is held until its first content, kept alive by heartbeats while a
 * model thinks, and ended with an error event (never a fake [DONE]) if it breaks later.
 * Exactly one usage row is written, however the request ends.
 */
export async function proxy(
  c: Context<AppEnv>,
  rt: RelayRuntime,
  job: ProxyJob,
): Promise<Response> {
  const key = c.get('key');
  const record = c.get('record');
  const requestId = c.get('requestId');
  const { config, store, logger, clock } = rt;
  record.model = job.model;

  if (!matchesAny(key.models, job.model)) throw modelNotFound(job.model);
  const routes = routesFor(config.channels, job.model, rt.channelState.isOn);
  if (routes.length === 0) throw modelNotFound(job.model);
  record.routed = true;

  const price = priceFor(config.prices, job.model, routes[0]?.upstreamModel);
  const hold = holdMicros(price, { ...job.estimate, images: job.images ?? 0 });
  // A key without a quota has nothing to hold against: no transaction before the upstream call.
  const reservation =
    key.quotaMicros === null ? { keyId: key.id, micros: 0 } : await store.reserveSoon(key.id, hold);
  if (!reservation) {
    const fresh = store.getKey(key.name) ?? key;
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
  const settlement = new Settlement({
    store,
    logger,
    key,
    reservation,
    record,
    requestId,
    endpoint: job.endpoint,
    price,
    now: () => clock.now(),
  });

  const headers = forwardHeaders((name) => c.req.header(name));
  const candidates: Candidate[] = routes.map((r) => ({
    ...r,
    name: r.channel.name,
    priority: r.channel.priority,
    weight: r.channel.weight,
  }));
  // Only streams have a client-side pipe; a JSON answer never pays for one.
  let clientStream: ClientStream | undefined;
  const sink = () => (clientStream ??= new ClientStream(config.server.clientStallMs));
  let streamOpen = false;
  let tally: StreamTally | undefined;
  let answer!: (
    value:
      | { kind: 'stream' }
      | { kind: 'json'; value: JsonAnswer; route: Route }
      | { kind: 'error'; error: RelayError },
  ) => void;
  const decided = new Promise<Parameters<typeof answer>[0]>((resolve) => (answer = resolve));
  const openStream = () => {
    if (streamOpen) return;
    streamOpen = true;
    answer({ kind: 'stream' });
  };

  // Until the first content, comments keep CloudFront (60 s read timeout) and clients waiting.
  const heartbeat = job.stream
    ? startHeartbeat({
        clock,
        intervalMs: config.server.heartbeatMs,
        onBeat: async (comment) => {
          openStream();
          await sink().write(comment);
        },
      })
    : undefined;

  const waits = upstreamWaits(record);
  const send = async (route: Route, ctx: AttemptContext) => {
    const payload = await job.body(route);
    let req: UpstreamRequest;
    try {
      req = adapterFor(route.channel.type).buildRequest({
        channel: route.channel,
        endpoint: job.endpoint,
        headers,
        ...payload,
      });
    } catch {
      // Never log the cause: a header error quotes the header's value, i.e. the provider key.
      throw new UpstreamError({
        kind: 'malformed',
        message: `channel ${route.channel.name} could not build a request (check its apiKey and headers)`,
      });
    }
    const t = route.channel.timeouts;
    return rt.upstream.request({
      url: req.url,
      method: req.method,
      headers: req.headers,
      body: req.body,
      timeouts: {
        connectMs: t.connectMs,
        idleMs: t.idleMs,
        firstByteMs: Math.max(1, Math.min(t.firstByteMs, ctx.remainingMs())),
      },
      signal: ctx.signal,
      waits,
    });
  };

  const attempt = async (
    cand: Candidate,
    ctx: AttemptContext,
  ): Promise<AttemptResult<JsonAnswer | StreamTally>> => {
    const res = await send(cand, ctx);
    if (res.status < 200 || res.status > 299) {
      const bodyText = await res.text(MAX_ERROR_BYTES).catch(() => '');
      return {
        ok: false,
        failure: classifyHttpFailure({
          status: res.status,
          headers: res.headers,
          bodyText,
          now: clock.now(),
        }),
      };
    }
    const contentType = res.headers.get('content-type') ?? 'application/json';
    if (job.stream && contentType.includes('text/event-stream')) {
      return relayStreamAttempt({
        res,
        ctx,
        sink: sink(),
        clientWantsUsage: job.clientWantsUsage,
        onCommit: (t) => {
          tally = t;
          heartbeat?.stop();
          record.channel = cand.channel.name;
          record.upstreamModel = cand.upstreamModel;
          record.ttfbMs = clock.now() - record.startedAt;
          settlement.price = priceFor(config.prices, job.model, cand.upstreamModel);
          openStream();
        },
      });
    }
    const text = await res.text(MAX_JSON_BYTES);
    let json: unknown;
    if (contentType.includes('json')) {
      try {
        json = JSON.parse(text);
      } catch {
        return {
          ok: false,
          failure: { kind: 'malformed', message: 'upstream JSON answer does not parse' },
        };
      }
    }
    ctx.commit();
    record.ttfbMs = clock.now() - record.startedAt;
    return { ok: true, value: { status: res.status, contentType, text, json } };
  };

  const onAttempt = (e: FailoverEvent) => {
    // Backoff and Retry-After waits are the upstream's doing, not relay overhead.
    if (e.type === 'failure' && e.delayMs) record.upstreamWaitMs += e.delayMs;
    if (e.type === 'failure') {
      logger.warn(
        {
          requestId,
          channel: e.channel,
          attempt: e.attemptNo,
          kind: e.failure.kind,
          upstreamStatus: e.failure.status,
          next: e.next,
        },
        'upstream attempt failed',
      );
    }
  };

  const run: Promise<FailoverResult<Candidate, JsonAnswer | StreamTally>> = runWithFailover({
    candidates,
    model: job.model,
    attempt,
    maxAttemptsPerChannel: config.server.maxAttemptsPerChannel,
    maxTotalMs: config.server.requestBudgetMs,
    clock,
    breaker: rt.breaker,
    random: rt.random,
    signal: c.req.raw.signal,
    onAttempt,
  });

  // What happens after the answer: the stream's end, and the one settlement.
  const finished = run.then(
    (result) => {
      heartbeat?.stop();
      record.attempts = result.attempts.length;
      if (result.ok) {
        if ('text' in result.value && streamOpen) {
          // Heartbeats already promised SSE, and the upstream answered a whole JSON body
          // (some models ignore `stream`): the one honest ending left is an error event.
          const error = new RelayError(
            502,
            'upstream_malformed_response',
            'Upstream answered this streaming request with a non-streaming body.',
          );
          record.errorMessage = error.message;
          return sink()
            .write(errorEvent(error, requestId))
            .catch(() => {})
            .then(() => {
              sink().close();
              return settleStream(error.status, 'none', error.code);
            });
        }
        if ('text' in result.value) {
          record.channel = result.channel.channel.name;
          record.upstreamModel = result.channel.upstreamModel;
          settlement.price = priceFor(config.prices, job.model, result.channel.upstreamModel);
          answer({ kind: 'json', value: result.value, route: result.channel });
          return;
        }
        sink().close();
        return settleStream(200, 'upstream');
      }
      const error = clientErrorFor(result.reason, result.failure, result.retryAfterMs);
      record.errorMessage = error.message;
      if (result.reason !== 'aborted') {
        logger.warn(
          {
            requestId,
            reason: result.reason,
            kind: result.failure?.kind,
            attempts: result.attempts.length,
          },
          'no upstream could answer',
        );
      }
      if (streamOpen) {
        // Headers (and maybe content) are out: the only honest ending left is an error event.
        const ended = c.req.raw.signal.aborted
          ? Promise.resolve()
          : sink()
              .write(errorEvent(error, requestId))
              .catch(() => {});
        return ended.then(() => {
          sink().close();
          return settleStream(error.status, tally ? 'partial' : 'none', error.code);
        });
      }
      // The client hears about the failure once its row is committed, as with a success.
      return settlement
        .finish({
          status: error.status,
          usage: { promptTokens: 0, completionTokens: 0 },
          source: 'none',
          errorCode: error.code,
        })
        .then(() => answer({ kind: 'error', error }));
    },
    (err: unknown) => {
      heartbeat?.stop();
      logger.error({ err, requestId }, 'proxy failed unexpectedly');
      const error = new RelayError(
        500,
        'server_error',
        'The relay hit an unexpected error. It has been logged.',
      );
      record.errorMessage = error.message;
      if (streamOpen) {
        return sink()
          .write(errorEvent(error, requestId))
          .catch(() => {})
          .then(() => {
            sink().close();
            return settleStream(500, 'partial', error.code);
          });
      }
      return settlement
        .finish({
          status: 500,
          usage: { promptTokens: 0, completionTokens: 0 },
          source: 'none',
          errorCode: error.code,
        })
        .then(() => answer({ kind: 'error', error }));
    },
  );

  function settleStream(
    status: number,
    source: 'upstream' | 'partial' | 'none',
    errorCode?: string,
  ): Promise<void> {
    record.status = status;
    const usage = tally?.usage ?? {
      promptTokens: tally ? job.estimate.promptTokens : 0,
      completionTokens: estimateTokens(tally?.generated ?? ''),
    };
    return settlement.finish({
      status,
      usage,
      source: source === 'upstream' ? (tally?.usage ? 'upstream' : 'estimated') : source,
      errorCode: errorCode ?? null,
    });
  }

  const decision = await decided;
  if (decision.kind === 'error') throw decision.error;
  if (decision.kind === 'stream') {
    record.done = finished.then(() => {});
    return c.body(sink().readable, 200, SSE_HEADERS);
  }
  return relayJsonAnswer(c, job, decision.value, decision.route, settlement);
}

/** Bills a whole JSON answer from its usage object and passes its bytes on unchanged (or transformed). */
async function relayJsonAnswer(
  c: Context<AppEnv>,
  job: ProxyJob,
  answer: JsonAnswer,
  route: Route,
  settlement: Settlement,
): Promise<Response> {
  let out = answer.text;
  let images = job.images ?? 0;
  try {
    if (job.transformJson && answer.json !== undefined) {
      const transformed = await job.transformJson(answer.json, route);
      out = JSON.stringify(transformed.body);
      images = transformed.images ?? images;
    }
  } catch (err) {
    const status =
      err instanceof RelayError || (err as { status?: number }).status
        ? ((err as { status: number }).status ?? 500)
        : 500;
    await settlement.finish({
      status,
      usage: { promptTokens: 0, completionTokens: 0 },
      source: 'none',
      errorCode: (err as { code?: string }).code ?? 'server_error',
    });
    throw err;
  }
  const usage = usageFromPayload(answer.json);
  await settlement.finish({
    status: answer.status,
    usage: usage
      ? { ...usage, images }
      : {
          promptTokens: job.estimate.promptTokens,
          completionTokens: job.transformJson ? 0 : estimateTokens(answer.text),
          images,
        },
    source: usage ? 'upstream' : 'estimated',
    detail: { ...job.detail, ...(images > 0 && { images }) },
  });
  return c.body(out, answer.status as 200, { 'content-type': answer.contentType });
}
