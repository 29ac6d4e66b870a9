/**
 * Converse carries bytes (images, documents, redacted reasoning) as blobs. In the request JSON
 * the relay builds and in the answers it reads they are base64 text; only the SDK call sees
 * Uint8Arrays. These walk the few places a blob can sit.
 */
import { isObject } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';

type Convert = (value: unknown) => unknown;

function eachBlob(block: Json, convert: Convert): void {
  for (const kind of ['image', 'document'] as const) {
    const source = isObject(block[kind]) ? block[kind].source : undefined;
    if (isObject(source) && source.bytes !== undefined) source.bytes = convert(source.bytes);
  }
  const reasoning = block.reasoningContent;
  if (isObject(reasoning) && reasoning.redactedContent !== undefined)
    reasoning.redactedContent = convert(reasoning.redactedContent);
  const result = block.toolResult;
  if (isObject(result) && Array.isArray(result.content))
    for (const inner of result.content) if (isObject(inner)) eachBlob(inner, convert);
}

/** Every content block of a Converse request's messages (and tool results' blocks). */
export function contentBlocks(input: Json): Json[] {
  const out: Json[] = [];
  const messages = Array.isArray(input.messages) ? input.messages : [];
  for (const m of messages)
    if (isObject(m) && Array.isArray(m.content))
      for (const b of m.content)
        if (isObject(b)) {
          out.push(b);
          const result = b.toolResult;
          if (isObject(result) && Array.isArray(result.content))
            out.push(...result.content.filter(isObject));
        }
  return out;
}

/** base64 text → bytes, in place, for the SDK. */
export function blobsToBytes(input: Json): void {
  const convert: Convert = (v) => (typeof v === 'string' ? Buffer.from(v, 'base64') : v);
  const messages = Array.isArray(input.messages) ? input.messages : [];
  for (const m of messages)
    if (isObject(m) && Array.isArray(m.content))
      for (const b of m.content) if (isObject(b)) eachBlob(b, convert);
}

/** JSON.stringify replacer: bytes in an SDK answer become base64 text. */
export function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}
