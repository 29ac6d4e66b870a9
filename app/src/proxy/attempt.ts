import type { ProxyJob } from '../core/job.ts';
import { UpstreamError } from '../core/failure.ts';
import type { UpstreamFailure } from '../core/failure.ts';
import type {
  DecodedJson,
  HeaderRecord,
  ProviderAdapter,
  UpstreamRequest,
} from '../providers/types.ts';
import { dialectFor } from '../providers/types.ts';
import { adapterFor } from '../providers/registry.ts';
import type { AttemptContext, AttemptResult } from '../routing/failover.ts';
import type { UpstreamResponse, WaitObserver } from '../routing/upstream-client.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { Candidate } from './admission.ts';
import type { Reply } from './reply.ts';
import { sendToChannel } from './send.ts';
import { relayStreamAttempt } from './stream-attempt.ts';
import type { StreamTally } from './stream-attempt.ts';

/** A whole 2xx JSON answer from one upstream, read and (when translating) decoded. */
export interface JsonAnswer {
  readonly kind: 'json';
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly json: unknown;
  readonly decoded: DecodedJson;
  /** The upstream spoke another dialect: `decoded.response` is what the client gets. */
  readonly translate: boolean;
}

export type Answer = JsonAnswer | ({ readonly kind: 'stream' } & StreamTally);

const MAX_JSON_BYTES = 256 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

export interface AttemptDeps {
  readonly rt: RelayRuntime;
  readonly job: ProxyJob;
  readonly reply: Reply;
  readonly waits: WaitObserver;
  /** Called once, right before the first content goes to a streaming client. */
  readonly onCommit: (route: Candidate, tally: StreamTally) => void;
}

/**
 * One try on one channel: build the request in the channel's dialect (the client's own body
 * when the dialects match, translated otherwise), send it, and read the answer: an error is
 * classified by the channel's adapter, a stream is relayed, a JSON body is read whole.
 */
export function createAttempt(deps: AttemptDeps) {
  const { rt, job, reply, waits } = deps;
  return async (cand: Candidate, ctx: AttemptContext): Promise<AttemptResult<Answer>> => {
    const adapter = adapterFor(cand.channel.type);
    const translate = dialectFor(adapter, cand.upstreamModel) !== job.dialect.name;
    const res = await send(rt, job, adapter, cand, translate, ctx, waits);
    if (res.status < 200 || res.status > 299) {
      const bodyText = await res.text(MAX_ERROR_BYTES).catch(() => '');
      const failure = adapter.classifyError({
        status: res.status,
        headers: res.headers,
        bodyText,
        now: rt.clock.now(),
      });
      return { ok: false, failure };
    }
    const contentType = res.contentType ?? 'application/json';
    if (job.stream && contentType.includes('text/event-stream')) {
      const result = await relayStreamAttempt({
        res,
        ctx,
        sink: reply.sink,
        decoder: adapter.streamDecoder(job, translate),
        encoder: translate ? job.dialect.streamEncoder(job) : undefined,
        onCommit: (tally) => deps.onCommit(cand, tally),
      });
      return result.ok ? { ok: true, value: { kind: 'stream', ...result.value } } : result;
    }
    return await readJson(res, contentType, adapter, job, translate, ctx);
  };
}

async function send(
  rt: RelayRuntime,
  job: ProxyJob,
  adapter: ProviderAdapter,
  cand: Candidate,
  translate: boolean,
  ctx: AttemptContext,
  waits: WaitObserver,
): Promise<UpstreamResponse> {
  let req: UpstreamRequest;
  try {
    const base = {
      channel: cand.channel,
      operation: job.operation,
      stream: job.stream,
      model: cand.upstreamModel,
      defaultMaxTokens: rt.config.server.defaultMaxTokens,
    };
    const chat = translate ? job.chat : undefined;
    if (chat) {
      req = adapter.buildRequest({
        ...base,
        headers: NO_HEADERS,
        chat: { ...chat(), model: cand.upstreamModel },
        dropped: (dropped) =>
          rt.logger.warn({ channel: cand.channel.name, dropped }, 'translation left features out'),
      });
    } else {
      // A JSON body is at hand and goes on in the same turn; only a form is awaited.
      const native = job.body(cand);
      req = adapter.buildRequest({
        ...base,
        headers: job.headers ?? NO_HEADERS,
        ...(native instanceof Promise ? await native : native),
      });
    }
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    // Never log the cause: a header error quotes the header's value, i.e. the provider key.
    throw new UpstreamError({
      kind: 'malformed',
      message: `channel ${cand.channel.name} could not build a request (check its apiKey and headers)`,
    });
  }
  const t = cand.channel.timeouts;
  const timeouts = {
    connectMs: t.connectMs,
    idleMs: t.idleMs,
    firstByteMs: Math.max(1, Math.min(t.firstByteMs, ctx.remainingMs())),
  };
  return await sendToChannel(rt, adapter, cand.channel, req, {
    timeouts,
    signal: ctx.signal,
    waits,
  });
}

const NO_HEADERS: Readonly<HeaderRecord> = {};

async function readJson(
  res: UpstreamResponse,
  contentType: string,
  adapter: ProviderAdapter,
  job: ProxyJob,
  translate: boolean,
  ctx: AttemptContext,
): Promise<AttemptResult<Answer>> {
  const text = await res.text(MAX_JSON_BYTES);
  let json: unknown;
  const malformed = (message: string): AttemptResult<Answer> => ({
    ok: false,
    failure: { kind: 'malformed', message } satisfies UpstreamFailure,
  });
  if (contentType.includes('json')) {
    try {
      json = JSON.parse(text);
    } catch {
      return malformed('upstream JSON answer does not parse');
    }
  } else if (translate) {
    return malformed(`upstream answered ${contentType.slice(0, 60)}, not JSON`);
  }
  // A streaming chat client answered in one piece still gets a stream: read it in neutral form.
  const neutral = translate || (job.stream && job.operation === 'chat');
  const decoded = json === undefined ? {} : adapter.decodeJson(json, job, neutral);
  if (decoded.failure) return { ok: false, failure: decoded.failure };
  ctx.commit();
  return {
    ok: true,
    value: { kind: 'json', status: res.status, contentType, text, json, decoded, translate },
  };
}
