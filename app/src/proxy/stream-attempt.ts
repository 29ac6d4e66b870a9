import { errorBody } from '../errors.ts';
import type { RelayError } from '../errors.ts';
import type { AttemptContext, AttemptResult } from '../routing/failover.ts';
import type { UpstreamFailure } from '../routing/failure.ts';
import { UpstreamError, classifyStreamError } from '../routing/failure.ts';
import type { UpstreamResponse } from '../routing/upstream-client.ts';
import { DONE_DATA, frameData, frameEvent, sseEvents } from '../streaming/sse.ts';
import type { EventSourceMessage } from '../streaming/sse.ts';
import type { TokenUsage } from '../usage/extract.ts';
import { usageFromPayload } from '../usage/extract.ts';
import { ClientGone } from './client-stream.ts';
import type { ClientStream } from './client-stream.ts';

/** What one streamed answer produced, for billing. */
export interface StreamTally {
  usage?: TokenUsage;
  /** Text the model produced, for an estimate when the upstream reports no usage. */
  generated: string;
}

export interface StreamAttemptOptions {
  readonly res: UpstreamResponse;
  readonly ctx: AttemptContext;
  readonly sink: ClientStream;
  /** The client asked for the usage chunk itself; otherwise the relay's own request for it stays hidden. */
  readonly clientWantsUsage: boolean;
  /** Called once, right before the first byte of content goes to the client. */
  readonly onCommit: (tally: StreamTally) => void;
}

/** Events after which an upstream is done talking, whatever the endpoint. */
const TERMINAL_TYPES = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
  'transcript.text.done',
]);

/**
 * Relays one upstream SSE answer. Events are held until the first one that carries content
 * (a role-only chunk is not content), so an upstream that dies before saying anything leaves
 * the client untouched and the request can fail over. After that, events are written as they
 * come; a failure is returned for the caller to end the stream with an error event.
 */
export async function relayStreamAttempt(
  opts: StreamAttemptOptions,
): Promise<AttemptResult<StreamTally>> {
  const { res, ctx, sink } = opts;
  const tally: StreamTally = { generated: '' };
  const held: string[] = [];
  let committed = false;
  let finished = false;
  let failure: UpstreamFailure | undefined;
  const chunks = res.chunks();
  const events = sseEvents(chunks);

  const commit = async () => {
    committed = true;
    ctx.commit();
    opts.onCommit(tally);
    for (const frame of held.splice(0)) await sink.write(frame);
  };

  try {
    for (;;) {
      let next: IteratorResult<EventSourceMessage, void>;
      try {
        next = await events.next();
      } catch (err) {
        if (err instanceof UpstreamError || ctx.signal.aborted) throw err;
        // The SSE parser gave up (an event beyond its buffer limit): that is the upstream's fault.
        failure = {
          kind: 'malformed',
          message: 'upstream sent an event the SSE parser could not take',
        };
        break;
      }
      const { done, value: msg } = next;
      if (done) break;
      if (msg.data === DONE_DATA) {
        finished = true;
        if (!committed) await commit();
        await sink.write(frameEvent(msg));
        break;
      }
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(msg.data) as Record<string, unknown>;
        if (typeof json !== 'object' || json === null || Array.isArray(json))
          throw new Error('not an object');
      } catch {
        failure = {
          kind: 'malformed',
          message: 'upstream sent an event that is not a JSON object',
        };
        break;
      }
      if (json.error != null || json.type === 'error') {
        failure = classifyStreamError(
          json.type === 'error' && json.error === undefined ? { error: json } : json,
        );
        break;
      }
      const usage = usageFromPayload(json);
      if (usage) tally.usage = usage;
      tally.generated += generatedText(json);
      if (typeof json.type === 'string' && TERMINAL_TYPES.has(json.type)) finished = true;
      if (
        Array.isArray(json.choices) &&
        json.choices.some((c: { finish_reason?: unknown }) => c?.finish_reason)
      ) {
        finished = true;
      }
      const usageOnly =
        Array.isArray(json.choices) && json.choices.length === 0 && json.usage != null;
      if (usageOnly && !opts.clientWantsUsage) continue;
      const frame = frameEvent(msg);
      if (!committed && (hasContent(json) || finished)) await commit();
      if (committed) await sink.write(frame);
      else held.push(frame);
    }
  } catch (err) {
    if (err instanceof UpstreamError) failure = err.failure;
    else if (err instanceof ClientGone || ctx.signal.aborted)
      failure = { kind: 'aborted', message: 'client disconnected' };
    else throw err;
  } finally {
    // Detached: the client has its answer; the drain only keeps the socket reusable.
    // Closing goes to the chunks, not the parser: it must not wait for a read in progress.
    const close = () => void chunks.return?.().catch(() => {});
    if (finished && !failure) void drain(events, close);
    else close();
  }
  // A clean end of the body without [DONE] or a finish is a cut answer, not a finished one.
  if (!failure && !finished)
    failure = { kind: 'malformed', message: 'upstream stream ended before it finished' };
  if (failure) return { ok: false, failure };
  if (!committed) await commit();
  return { ok: true, value: tally };
}

/** The error event that ends a stream that cannot finish: OpenAI's error shape, and no [DONE]. */
export function errorEvent(error: RelayError, requestId: string): string {
  return frameData(JSON.stringify(errorBody(error, requestId)));
}

function hasContent(json: Record<string, unknown>): boolean {
  if (typeof json.delta === 'string' && json.delta.length > 0) return true;
  if (!Array.isArray(json.choices)) return false;
  return json.choices.some((c: Record<string, unknown>) => {
    if (typeof c?.text === 'string' && c.text.length > 0) return true;
    const d = c?.delta as Record<string, unknown> | undefined;
    return (
      (typeof d?.content === 'string' && d.content.length > 0) ||
      (typeof d?.reasoning_content === 'string' && d.reasoning_content.length > 0) ||
      (Array.isArray(d?.tool_calls) && d.tool_calls.length > 0)
    );
  });
}

function generatedText(json: Record<string, unknown>): string {
  let out = typeof json.delta === 'string' ? json.delta : '';
  if (!Array.isArray(json.choices)) return out;
  for (const ch of json.choices as Record<string, unknown>[]) {
    if (typeof ch?.text === 'string') out += ch.text;
    const d = ch?.delta as Record<string, unknown> | undefined;
    if (!d) continue;
    if (typeof d.content === 'string') out += d.content;
    if (typeof d.reasoning_content === 'string') out += d.reasoning_content;
    for (const t of Array.isArray(d.tool_calls)
      ? (d.tool_calls as { function?: { arguments?: unknown } }[])
      : []) {
      if (typeof t?.function?.arguments === 'string') out += t.function.arguments;
    }
  }
  return out;
}

/**
 * After [DONE] the upstream only has its closing bytes left; reading them (rather than
 * cancelling) lets undici keep the connection for the next request. Bounded, so an upstream
 * that lingers after [DONE] cannot hold the client's stream open.
 */
async function drain(events: AsyncGenerator<unknown, void>, close: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 1_000)));
  try {
    for (let i = 0; i < 8; i++) {
      const r = await Promise.race([events.next(), late]);
      if (r === 'late') break;
      if (r.done) return;
    }
  } catch {
    return;
  } finally {
    clearTimeout(timer);
  }
  close();
}
