import { createParser } from 'eventsource-parser';
import type { EventSourceMessage, ParseError } from 'eventsource-parser';

export type { EventSourceMessage };

/** The only place that frames SSE for clients. */
export function frameEvent(msg: EventSourceMessage): string {
  let out = '';
  if (msg.event) out += `event: ${msg.event}\n`;
  if (msg.id) out += `id: ${msg.id}\n`;
  // One line of data, as nearly every event has: no split, no array.
  if (!msg.data.includes('\n')) return `${out}data: ${msg.data}\n\n`;
  for (const line of msg.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

export const frameData = (data: string): string => frameEvent({ data });
export const DONE_DATA = '[DONE]';

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // nginx and some proxies buffer responses unless told otherwise.
  'x-accel-buffering': 'no',
};

/** Largest event the parser holds; a bigger one ends the stream as malformed. */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Upstream bytes → SSE messages, by a maintained parser rather than string splitting, one batch
 * per upstream chunk: the events one chunk completed (a chunk that completes none yields
 * nothing). The relay writes a batch to the client in one write, so an upstream that packs
 * several events into one chunk costs one socket write, not one per event. A plain async
 * generator over the body's chunks: the Web stream pipeline it replaces (decoder stream, parser
 * stream) cost several promise hops per chunk on the hottest path a relay has. Ending the
 * iteration early (return) ends the iteration of `chunks`, which closes the upstream socket.
 */
export async function* sseEventBatches(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventSourceMessage[], void, undefined> {
  let ready: EventSourceMessage[] = [];
  let fatal: ParseError | undefined;
  const parser = createParser({
    onEvent: (event) => ready.push(event),
    // Only a buffer overflow is fatal; other parse errors skip the bad line, as browsers do.
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') fatal ??= err;
    },
    maxBufferSize: MAX_SSE_EVENT_BYTES,
  });
  const decoder = new TextDecoder();
  /** The events parsed so far, handed over whole (the consumer may keep the array). */
  const take = (): EventSourceMessage[] => {
    if (fatal) throw fatal;
    const batch = ready;
    ready = [];
    return batch;
  };
  for await (const chunk of chunks) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    const batch = take();
    if (batch.length > 0) yield batch;
  }
  const tail = decoder.decode();
  if (tail) parser.feed(tail);
  const batch = take();
  if (batch.length > 0) yield batch;
}

/** The same messages one at a time, for readers that want no batches (tests, decoders). */
export async function* sseEvents(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventSourceMessage, void, undefined> {
  for await (const batch of sseEventBatches(chunks)) yield* batch;
}
