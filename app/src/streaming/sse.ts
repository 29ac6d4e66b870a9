import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { EventSourceMessage } from 'eventsource-parser';

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
export const frameComment = (text: string): string => `: ${text}\n\n`;
export const DONE_DATA = '[DONE]';

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // nginx and some proxies buffer responses unless told otherwise.
  'x-accel-buffering': 'no',
};

/** Upstream bytes → SSE messages, by a maintained parser rather than string splitting. */
export function parseSse(body: ReadableStream<Uint8Array>): ReadableStream<EventSourceMessage> {
  return body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ maxBufferSize: 16 * 1024 * 1024 }));
}
