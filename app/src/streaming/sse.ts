import { createParser } from 'eventsource-parser';
import type { EventSourceMessage, ParseError } from 'eventsource-parser';

export type { EventSourceMessage };

/** The only place that frames SSE for clients. */
export function frameEvent(msg: EventSourceMessage): string {
  let out = '';
  if (msg.event) out += `event: ${msg.event}\n`;
  if (msg.id) out += `id: ${msg.id}\n`;
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
 * Upstream bytes → SSE messages, by a maintained parser rather than string splitting. A plain
 * async generator over the body's chunks: the Web stream pipeline it replaces (decoder stream,
 * parser stream) cost several promise hops per chunk on the hottest path a relay has. Ending the
 * iteration early (return) ends the iteration of `chunks`, which closes the upstream socket.
 */
export async function* sseEvents(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventSourceMessage, void, undefined> {
  const ready: EventSourceMessage[] = [];
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
  const drainReady = function* () {
    if (fatal) throw fatal;
    for (let i = 0; i < ready.length; i++) yield ready[i]!;
    ready.length = 0;
  };
  for await (const chunk of chunks) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* drainReady();
  }
  const tail = decoder.decode();
  if (tail) parser.feed(tail);
  yield* drainReady();
}
