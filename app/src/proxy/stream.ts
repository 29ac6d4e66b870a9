import { RelayError, errorBody } from '../errors.ts';
import type { EventSourceMessage } from '../streaming/sse.ts';
import {
  DONE_DATA,
  SSE_HEADERS,
  frameComment,
  frameData,
  frameEvent,
  parseSse,
} from '../streaming/sse.ts';
import type { TokenUsage } from '../usage/extract.ts';
import { estimateTokens, usageFromPayload } from '../usage/extract.ts';
import type { RelayArgs } from './json.ts';
import { upstreamErrorOf } from './upstream-errors.ts';
import { classifyTransportError } from './upstream.ts';

const encoder = new TextEncoder();
const TICK: unique symbol = Symbol('tick');

type Parsed =
  | { kind: 'done' }
  | { kind: 'error'; error: RelayError }
  | {
      kind: 'event';
      msg: EventSourceMessage;
      json: Record<string, unknown> | null;
      forward: boolean;
    };

/**
 * SSE relay. The response is held until the upstream's first event, so that an upstream that
 * fails before saying anything still yields a real HTTP error. If the first event is slow, the
 * response commits with heartbeat comments (CloudFront drops origins silent for 60 s). Once
 * content went out, an upstream failure ends the stream with an error event and no [DONE]:
 * never a fake clean finish.
 */
export async function relayStream(args: RelayArgs): Promise<Response> {
  const { c, deps, job, opened, settlement, abort, clientSignal, onClientAbort } = args;
  const record = c.get('record');
  const requestId = c.get('requestId');
  const now = deps.now ?? Date.now;
  const reader = parseSse(opened.res.body ?? new ReadableStream()).getReader();
  let usage: TokenUsage | undefined;
  let generated = '';

  const parse = (msg: EventSourceMessage): Parsed => {
    if (msg.data === DONE_DATA) return { kind: 'event', msg, json: null, forward: true };
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(msg.data) as Record<string, unknown>;
    } catch {
      return {
        kind: 'error',
        error: new RelayError(
          502,
          'upstream_malformed_stream',
          'Upstream sent a malformed stream event.',
        ),
      };
    }
    if (json === null || typeof json !== 'object') {
      return {
        kind: 'error',
        error: new RelayError(
          502,
          'upstream_malformed_stream',
          'Upstream sent a malformed stream event.',
        ),
      };
    }
    if (json.error && msg.event !== 'response.failed') {
      const up = upstreamErrorOf(msg.data);
      return {
        kind: 'error',
        error: new RelayError(
          502,
          'upstream_error',
          `Upstream failed mid-stream: ${up?.message ?? 'unknown error'}`,
        ),
      };
    }
    const u = usageFromPayload(json);
    if (u) usage = u;
    generated += generatedText(json);
    const usageOnly =
      Array.isArray(json.choices) && json.choices.length === 0 && json.usage != null;
    return { kind: 'event', msg, json, forward: !(usageOnly && !job.clientWantsUsage) };
  };

  const next = async (): Promise<Parsed> => {
    const r = await reader.read();
    return r.done ? { kind: 'done' } : parse(r.value);
  };

  const failureOf = (err: unknown): RelayError => {
    const f = classifyTransportError(err, abort.signal);
    if (f.kind === 'aborted')
      return new RelayError(499 as 400, 'client_closed_request', 'Client closed the request.');
    if (f.kind === 'timeout-idle')
      return new RelayError(504, 'upstream_timeout', 'Upstream went silent mid-stream.');
    return new RelayError(
      502,
      'upstream_stream_interrupted',
      'Upstream stream broke off before it finished.',
    );
  };

  const firstP: Promise<Parsed> = next().catch((err: unknown) => ({
    kind: 'error',
    error: failureOf(err),
  }));
  const early = await Promise.race([firstP, tick(deps.config.server.heartbeatMs)]);
  if (early !== TICK) {
    if (early.kind === 'error') throw early.error;
    if (early.kind === 'done')
      throw new RelayError(
        502,
        'upstream_empty_stream',
        'Upstream ended the stream without sending anything.',
      );
  }

  let finish!: () => void;
  record.done = new Promise<void>((resolve) => (finish = resolve));
  const settle = (
    status: number,
    source: 'upstream' | 'estimated' | 'partial',
    errorCode?: string,
  ) => {
    settlement.finish({
      status,
      usage: usage ?? {
        promptTokens: job.estimate.promptTokens,
        completionTokens: estimateTokens(generated),
      },
      source: source === 'upstream' && !usage ? 'estimated' : source,
      errorCode: errorCode ?? null,
    });
  };

  async function* produce(): AsyncGenerator<Uint8Array> {
    let outcome: { status: number; source: 'upstream' | 'partial'; code?: string } = {
      status: 499,
      source: 'partial',
      code: 'client_closed_request',
    };
    try {
      let item: Parsed | typeof TICK = early;
      while (item === TICK) {
        yield encoder.encode(frameComment('keep-alive'));
        item = await Promise.race([firstP, tick(deps.config.server.heartbeatMs)]);
      }
      record.ttfbMs = now() - record.startedAt;
      for (;;) {
        if (item.kind === 'done') {
          outcome = { status: 200, source: 'upstream' };
          return;
        }
        if (item.kind === 'error') {
          outcome = { status: item.error.status, source: 'partial', code: item.error.code };
          if (item.error.code !== 'client_closed_request') {
            yield encoder.encode(frameData(JSON.stringify(errorBody(item.error, requestId))));
          }
          return;
        }
        if (item.forward) yield encoder.encode(frameEvent(item.msg));
        item = await next().catch((err: unknown): Parsed => ({
          kind: 'error',
          error: failureOf(err),
        }));
      }
    } finally {
      clientSignal.removeEventListener('abort', onClientAbort);
      if (outcome.status !== 200) abort.abort();
      reader.cancel().catch(() => {});
      record.status = outcome.status;
      settle(outcome.status, outcome.source, outcome.code);
      finish();
    }
  }

  return c.body(ReadableStream.from(produce()), 200, SSE_HEADERS);
}

/** Text the model produced in one event, for estimating usage when the upstream reports none. */
function generatedText(json: Record<string, unknown>): string {
  let out = '';
  if (typeof json.delta === 'string') out += json.delta;
  if (Array.isArray(json.choices)) {
    for (const ch of json.choices as Record<string, unknown>[]) {
      if (typeof ch?.text === 'string') out += ch.text;
      const d = ch?.delta as Record<string, unknown> | undefined;
      if (!d) continue;
      if (typeof d.content === 'string') out += d.content;
      if (typeof d.reasoning_content === 'string') out += d.reasoning_content;
      if (Array.isArray(d.tool_calls)) {
        for (const t of d.tool_calls as { function?: { arguments?: unknown } }[]) {
          if (typeof t?.function?.arguments === 'string') out += t.function.arguments;
        }
      }
    }
  }
  return out;
}

const tick = (ms: number) =>
  new Promise<typeof TICK>((resolve) => setTimeout(() => resolve(TICK), ms).unref());
