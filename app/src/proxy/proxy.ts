import type { Context } from 'hono';
import { eventsOf } from '../core/chat.ts';
import type { ProxyJob } from '../core/job.ts';
import { RelayError } from '../errors.ts';
import { runWithFailover } from '../routing/failover.ts';
import type { FailoverEvent, FailoverResult } from '../routing/failover.ts';
import type { RelayRuntime } from '../runtime.ts';
import { upstreamWaits } from '../timing.ts';
import type { AppEnv, RequestRecord } from '../types.ts';
import { estimateTokens } from '../usage/extract.ts';
import type { RequestUsage } from '../usage/request-usage.ts';
import { admit, holdQuota, priceOf } from './admission.ts';
import type { Candidate } from './admission.ts';
import { createAttempt } from './attempt.ts';
import type { StreamTally } from './stream-attempt.ts';
import type { Answer, JsonAnswer } from './attempt.ts';
import { clientErrorFor } from './client-error.ts';
import { clientGone } from './client-gone.ts';
import { nonStreamTimeout, requestBudgetFor } from './non-stream-budget.ts';
import { Reply } from './reply.ts';

/**
 * The relay's one proxy path, whatever the dialects: admission (model, key, channels) → hold
 * (quota) → failover (channels tried with retries, breakers and a time budget until one
 * answers) → settle (the one usage row). A JSON answer is returned whole; a stream is held
 * until its first content, kept alive by heartbeats while a model thinks, and ended with an
 * error frame (never a fake ending) if it breaks later.
 */
export async function proxy(
  c: Context<AppEnv>,
  rt: RelayRuntime,
  job: ProxyJob,
): Promise<Response> {
  const key = c.get('key');
  const record = c.get('record');
  const usage = c.get('usage');
  record.model = job.model;
  const candidates = admit(rt, key, job);
  record.routed = true;
  usage.price = priceOf(rt, job, candidates[0]?.upstreamModel);
  const holding = holdQuota(rt, key, usage, job);
  if (holding) await holding;

  // The client's hang-up, heard once: the failover stops on it, and a broken stream skips its
  // error frame for a client that is gone.
  const gone = clientGone(c);
  const reply = new Reply(c, rt, job, gone);
  // The committed stream's tally, kept up to date as it runs: a stream that breaks later is
  // billed for what it had produced.
  let tally: StreamTally | undefined;
  const served = (route: Candidate) => {
    record.channel = route.channel.name;
    record.upstreamModel = route.upstreamModel;
    record.ttfbMs = rt.clock.now() - record.startedAt;
    usage.price = priceOf(rt, job, route.upstreamModel);
  };
  const run = runWithFailover({
    candidates,
    model: job.model,
    // Circuits follow the upstream's model: an alias and its target are one model there.
    modelOf: (route) => route.upstreamModel,
    attempt: createAttempt({
      rt,
      job,
      reply,
      waits: upstreamWaits(record),
      onCommit: (route, t) => {
        tally = t;
        reply.stopHeartbeat();
        served(route);
        reply.openStream();
      },
    }),
    maxAttemptsPerChannel: rt.config.server.maxAttemptsPerChannel,
    maxTotalMs: requestBudgetFor(job.stream, rt.config.server),
    clock: rt.clock,
    breaker: rt.breaker,
    random: rt.random,
    signal: gone,
    onAttempt: logAttempt(rt, record, c.get('requestId')),
  });
  // Awaited, not returned or chained: an async function (or a then callback) that hands back a
  // promise settles through a thenable job, one more promise and turn each; on the way of a
  // chat request there were six (`return await` here, in attempt.ts and in the routes).
  const ended = (async () => {
    try {
      const result = await run;
      await settle(rt, c, job, reply, usage, result, served, tally);
    } catch (err) {
      await crashed(rt, c, job, reply, usage, err, tally);
    }
  })();
  return await reply.response(ended);
}

function logAttempt(rt: RelayRuntime, record: RequestRecord, requestId: string) {
  return (e: FailoverEvent) => {
    // Backoff and Retry-After waits are the upstream's doing, not relay overhead.
    if (e.type === 'failure' && e.delayMs) record.upstreamWaitMs += e.delayMs;
    if (e.type === 'attempt' && e.panic) {
      // Every circuit for the model refused: this channel is tried anyway (panic routing).
      rt.logger.warn({ requestId, channel: e.channel, attempt: e.attemptNo }, 'panic attempt');
    }
    if (e.type !== 'failure') return;
    rt.logger.warn(
      {
        requestId,
        channel: e.channel,
        attempt: e.attemptNo,
        kind: e.failure.kind,
        upstreamStatus: e.failure.status,
        // What the operator has to fix, when the adapter could say (never keys or headers).
        detail: e.failure.message,
        next: e.next,
      },
      'upstream attempt failed',
    );
  };
}

/**
 * After the failover runner is done: the answer (or the error), and the one usage row. Resolves
 * once the answer is out, not when its row is committed: the row goes behind it, in flight
 * (RequestUsage.finish), so that nothing waiting here keeps the request's objects (its context,
 * body, answer) through the commit window, where every young-generation collection would copy
 * them.
 */
async function settle(
  rt: RelayRuntime,
  c: Context<AppEnv>,
  job: ProxyJob,
  reply: Reply,
  usage: RequestUsage,
  result: FailoverResult<Candidate, Answer>,
  served: (route: Candidate) => void,
  tally: StreamTally | undefined,
): Promise<void> {
  reply.stopHeartbeat();
  const record = c.get('record');
  record.attempts = result.attempts.length;
  if (result.ok && result.value.kind === 'stream') {
    reply.sink.close();
    record.status = 200;
    return finishStream(usage, job, result.value, 200, 'upstream');
  }
  if (result.ok && job.stream && result.value.kind === 'json' && result.value.decoded.response) {
    // The upstream ignored `stream` and answered whole: the client still gets the stream it
    // asked for, written from the answer, in its own dialect.
    served(result.channel);
    return await streamWhole(job, reply, usage, result.value);
  }
  if (result.ok && reply.streaming) {
    // Heartbeats already promised SSE, and the upstream answered a whole body that is not a
    // chat answer: the one honest ending left is an error frame.
    const error = new RelayError(
      502,
      'upstream_malformed_response',
      'Upstream answered this streaming request with a non-streaming body.',
    );
    record.status = error.status;
    record.errorMessage = error.message;
    await reply.failStream(error);
    return finishStream(usage, job, undefined, error.status, 'none', error.code);
  }
  if (result.ok) {
    served(result.channel);
    return await answerJson(c, job, reply, usage, result.value as JsonAnswer, result.channel);
  }
  const error =
    nonStreamTimeout(job.stream, rt.config.server, result, rt.clock.now() - record.startedAt) ??
    clientErrorFor(result.reason, result.failure, result.retryAfterMs, result.refused);
  record.errorMessage = error.message;
  if (result.reason !== 'aborted') {
    rt.logger.warn(
      {
        requestId: c.get('requestId'),
        reason: result.reason,
        kind: result.failure?.kind,
        attempts: result.attempts.length,
      },
      'no upstream could answer',
    );
  }
  if (reply.streaming) {
    record.status = error.status;
    await reply.failStream(error);
    return finishStream(usage, job, tally, error.status, tally ? 'partial' : 'none', error.code);
  }
  // The error goes out at once; its row is written behind it (see answerJson).
  void usage.finishUnanswered(error.status, error.code);
  reply.error(error);
}

/** A bug: logged, answered with a 500 in the client's dialect, and the row still written. */
async function crashed(
  rt: RelayRuntime,
  c: Context<AppEnv>,
  job: ProxyJob,
  reply: Reply,
  usage: RequestUsage,
  err: unknown,
  tally: StreamTally | undefined,
): Promise<void> {
  reply.stopHeartbeat();
  rt.logger.error({ err, requestId: c.get('requestId') }, 'proxy failed unexpectedly');
  const error = new RelayError(
    500,
    'server_error',
    'The relay hit an unexpected error. It has been logged.',
  );
  c.get('record').errorMessage = error.message;
  if (reply.streaming) {
    c.get('record').status = 500;
    await reply.failStream(error);
    return finishStream(usage, job, tally, 500, 'partial', error.code);
  }
  void usage.finishUnanswered(500, error.code);
  reply.error(error);
}

/**
 * The row of a stream. A finished stream is billed as its upstream reported it. A cut one was
 * billed as far as it got: what the upstream reported so far (Anthropic reports input at the
 * start and output only at the end), and at least what the relay saw it produce.
 */
function finishStream(
  usage: RequestUsage,
  job: ProxyJob,
  tally: StreamTally | undefined,
  status: number,
  source: 'upstream' | 'partial' | 'none',
  errorCode?: string,
): void {
  const reported = tally?.usage;
  // The estimate only when the upstream's report is not the bill: measuring the text flattens
  // the stream's every delta into one string and counts its UTF-8 bytes.
  const billed =
    source === 'upstream' && reported
      ? reported
      : {
          ...reported,
          promptTokens: reported?.promptTokens ?? (tally ? job.estimate.promptTokens : 0),
          completionTokens: Math.max(
            reported?.completionTokens ?? 0,
            estimateTokens(tally?.generated ?? ''),
          ),
        };
  void usage.finish({
    status,
    usage: billed,
    source: source === 'upstream' ? (reported ? 'upstream' : 'estimated') : source,
    errorCode: errorCode ?? null,
  });
}

async function streamWhole(
  job: ProxyJob,
  reply: Reply,
  usage: RequestUsage,
  answer: JsonAnswer,
): Promise<void> {
  const encoder = job.dialect.streamEncoder(job);
  const frames = eventsOf(answer.decoded.response!)
    .map((e) => encoder.encode(e))
    .join('');
  reply.openStream();
  await reply.sink.write(frames + encoder.end()).catch(() => {});
  reply.sink.close();
  const reported = answer.decoded.usage;
  void usage.finish({
    status: 200,
    usage: reported ?? {
      promptTokens: job.estimate.promptTokens,
      completionTokens: estimateTokens(answer.text),
    },
    source: reported ? 'upstream' : 'estimated',
  });
}

/** Bills a whole JSON answer and hands it to the client: as received, translated, or transformed. */
async function answerJson(
  c: Context<AppEnv>,
  job: ProxyJob,
  reply: Reply,
  usage: RequestUsage,
  answer: JsonAnswer,
  route: Candidate,
): Promise<void> {
  let body = answer.text;
  let contentType = answer.contentType;
  let images = job.images ?? 0;
  try {
    if (answer.translate && answer.decoded.response) {
      body = JSON.stringify(job.dialect.renderJson(answer.decoded.response, job));
      contentType = 'application/json';
    } else if (job.transformJson && answer.json !== undefined) {
      const transformed = await job.transformJson(answer.json, route);
      body = JSON.stringify(transformed.body);
      images = transformed.images ?? images;
    }
  } catch (err) {
    // Image storage fails with errors of its own (app.onError renders them); anything else is a bug.
    const status = (err as { status?: number }).status ?? 500;
    void usage.finishUnanswered(status, (err as { code?: string }).code ?? 'server_error');
    reply.error(err);
    return;
  }
  const reported = answer.decoded.usage;
  // Answer first, write behind: finish() has decided the charge (or the hold still counts) by
  // the time it returns, so the client need not wait for the commit (a setImmediate hop and a
  // transaction on SQLite, a round trip on DynamoDB); the row stays in flight until committed.
  void usage.finish({
    status: answer.status,
    usage: reported
      ? { ...reported, images }
      : {
          promptTokens: job.estimate.promptTokens,
          completionTokens: job.transformJson ? 0 : estimateTokens(answer.text),
          images,
        },
    source: reported ? 'upstream' : 'estimated',
    detail: { ...job.detail, ...(images > 0 && { images }) },
  });
  reply.json({ status: answer.status, contentType, body });
}
