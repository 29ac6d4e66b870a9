import type { StreamEncoder } from '../core/job.ts';
import type { UpstreamFailure } from '../core/failure.ts';
import { UpstreamError } from '../core/failure.ts';
import type { StreamDecoder } from '../providers/types.ts';
import type { AttemptContext, AttemptResult } from '../routing/failover.ts';
import type { UpstreamResponse } from '../routing/upstream-client.ts';
import { frameEvent, sseEventBatches } from '../streaming/sse.ts';
import type { EventSourceMessage } from '../streaming/sse.ts';
import type { TokenUsage } from '../core/usage.ts';
import { ClientGone } from './client-stream.ts';
import type { ClientSink } from './client-stream.ts';

/** What one streamed answer produced, for billing. */
export interface StreamTally {
  usage?: TokenUsage;
  /** Text the model produced, for an estimate when the upstream reports no usage. */
  generated: string;
}

export interface StreamAttemptOptions {
  readonly res: UpstreamResponse;
  readonly ctx: AttemptContext;
  readonly sink: ClientSink;
  /** Reads the upstream's events (its dialect). */
  readonly decoder: StreamDecoder;
  /** Writes the client's dialect when it differs; without one, frames pass through untouched. */
  readonly encoder?: StreamEncoder | undefined;
  /** Called once, right before the first byte of content goes to the client. */
  readonly onCommit: (tally: StreamTally) => void;
}

/**
 * Relays one upstream SSE answer, in whatever dialects. Frames are held until the first one
 * that carries content (a role or a ping is not content), so an upstream that dies before
 * saying anything leaves the client untouched and the request can fail over. After that,
 * frames are written as they come; a failure is returned for the caller to end the stream
 * with an error frame. Same dialect in and out, each upstream frame is written as received.
 * The frames of one upstream chunk go out in one write (one socket write instead of one per
 * event); the bytes are the same either way.
 */
export async function relayStreamAttempt(
  opts: StreamAttemptOptions,
): Promise<AttemptResult<StreamTally>> {
  const { res, ctx, sink, decoder, encoder } = opts;
  const tally: StreamTally = { generated: '' };
  /** Frames before the first content, kept back so that the request can still fail over. */
  let held = '';
  /** Frames for the client not yet written (committed: the current chunk's). */
  let out = '';
  let committed = false;
  let finished = false;
  let failure: UpstreamFailure | undefined;
  const chunks = res.chunks();
  const batches = sseEventBatches(chunks);

  const commit = () => {
    committed = true;
    ctx.commit();
    opts.onCommit(tally);
    out = held + out;
    held = '';
  };
  const flush = async () => {
    if (!out) return;
    const text = out;
    out = '';
    await sink.write(text);
  };

  try {
    read: for (;;) {
      let next: IteratorResult<EventSourceMessage[], void>;
      try {
        next = await batches.next();
      } catch (err) {
        if (err instanceof UpstreamError || ctx.signal.aborted) throw err;
        // The SSE parser gave up (an event beyond its buffer limit): that is the upstream's fault.
        failure = {
          kind: 'malformed',
          message: 'upstream sent an event the SSE parser could not take',
        };
        break;
      }
      if (next.done) break;
      for (const msg of next.value) {
        const d = decoder.decode(msg);
        if (d.failure) {
          failure = d.failure;
          break read;
        }
        if (d.usage) tally.usage = d.usage;
        if (d.text) tally.generated += d.text;
        if (d.finished) finished = true;
        let frame = '';
        if (encoder) for (const e of d.events) frame += encoder.encode(e);
        else if (d.forward) frame = frameEvent(msg);
        if (!committed && (d.content || finished)) commit();
        if (committed) out += frame;
        else held += frame;
        if (d.last) break read;
      }
      await flush();
    }
    // A stream that ends other than finished still owes the client what came before the end
    // in the same chunk, ahead of the error frame; a finished one writes it with its closing.
    if (committed && (failure || !finished)) await flush();
  } catch (err) {
    if (err instanceof UpstreamError) failure = err.failure;
    else if (err instanceof ClientGone || ctx.signal.aborted)
      failure = { kind: 'aborted', message: 'client disconnected' };
    else throw err;
  } finally {
    // Detached: the client has its answer; the drain only keeps the socket reusable (none
    // needed when the body is all in: most often it comes with the last event).
    // Closing goes to the chunks, not the parser: it must not wait for a read in progress.
    const close = () => void chunks.return?.().catch(() => {});
    if (finished && !failure && !res.bodyEnded) void drain(batches, close);
    else close();
  }
  // A clean end of the body before the answer was complete is a cut answer, not a finished one:
  // after content, the same news as a dropped connection (the client's answer was interrupted).
  if (!failure && !finished) {
    const message = 'upstream stream ended before it finished';
    failure = committed
      ? { kind: 'connect', message, midResponse: true }
      : { kind: 'malformed', message };
  }
  if (failure) return { ok: false, failure };
  try {
    if (!committed) commit();
    // The last chunk's frames and the closing frames in one write.
    if (encoder) out += encoder.end();
    await flush();
  } catch (err) {
    if (err instanceof ClientGone || ctx.signal.aborted)
      return { ok: false, failure: { kind: 'aborted', message: 'client disconnected' } };
    throw err;
  }
  return { ok: true, value: tally };
}

/**
 * After the last event the upstream only has its closing bytes left; reading them (rather than
 * cancelling) lets undici keep the connection for the next request. Bounded, so an upstream
 * that lingers cannot hold the client's stream open.
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
