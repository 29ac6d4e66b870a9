/**
 * Gemini parts ↔ neutral parts, shared by the client dialect (requests in, answers out) and the
 * gemini channel type (requests out, answers in): one wire format, read and written in one place.
 *
 * Thought signatures: Gemini puts `thoughtSignature` on whichever part it belongs to — a thought
 * part, a function call, a text part, or an empty text part at the end of a stream — and wants it
 * back on the same part. Neutral chats carry signatures on thinking parts, so a signature on a
 * part that is not a thought is read as an empty thinking part right before that part, and an
 * empty signed thinking part is written back onto the part that follows it. A signed thinking
 * part with text (another provider's, which signs the text) stays one thought part in requests;
 * in answers to a Gemini client its signature goes on the part after it, as Gemini writes it,
 * because Gemini CLI drops thought parts from the history it sends back. Read back, a signature
 * on the part right after an unsigned thought signs that thought again.
 */
import type {
  ImagePart,
  MediaSource,
  OutputPart,
  Part,
  TextPart,
  ToolResultPart,
} from '../../core/chat.ts';
import type { Json } from '../../core/json.ts';
import { isObject, objects, str } from '../../core/json.ts';

/** Names the tool calls of one read, and finds the call a function response answers. */
export interface CallIds {
  call(id: string, name: string): string;
  result(id: string, name: string): string;
}

function media(data: Json, kind: 'inline' | 'file'): Part | undefined {
  const mediaType = str(data.mimeType);
  let source: MediaSource;
  if (kind === 'inline') source = { kind: 'base64', mediaType, data: str(data.data) };
  else if (str(data.fileUri)) source = { kind: 'url', url: str(data.fileUri) };
  else return undefined;
  // A file with no type said is most likely an image (what clients attach most).
  return mediaType.startsWith('image/') || mediaType === ''
    ? { type: 'image', source }
    : { type: 'document', source };
}

/** A function response as tool-result text: its `output`/`result` text, else the whole object. */
function resultPart(response: Json, toolCallId: string): ToolResultPart {
  const body = isObject(response.response) ? response.response : {};
  const named = body.output ?? body.result ?? (body.error !== undefined ? body.error : undefined);
  const keys = Object.keys(body);
  const text = typeof named === 'string' && keys.length === 1 ? named : JSON.stringify(body);
  return {
    type: 'tool_result',
    toolCallId,
    content: [{ type: 'text', text }],
    ...(body.error !== undefined && body.output === undefined && { isError: true }),
  };
}

/**
 * Google's documented stand-in for a signature the history lost (a client that does not echo
 * reasoning back, such as the openai SDK, or a conversation begun on another provider).
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/**
 * Signatures Google documents as stand-ins for one a client no longer has: Gemini takes them in
 * place of a real one, and Gemini CLI puts the first on every function call it sends back
 * without one. They sign nothing, so for any other upstream there is no signature at all.
 */
const STAND_INS = new Set([SKIP_SIGNATURE, 'context_engineering_is_the_way_to_go']);

/** One Gemini part as neutral parts (none for kinds with no neutral equivalent). */
export function readPart(part: Json, ids: CallIds): Part[] {
  const given = str(part.thoughtSignature);
  const signature = STAND_INS.has(given) ? '' : given;
  const signed = (p: Part): Part[] =>
    signature ? [{ type: 'thinking', text: '', signature }, p] : [p];
  if (part.thought === true) {
    return [{ type: 'thinking', text: str(part.text), ...(signature && { signature }) }];
  }
  if (typeof part.text === 'string') {
    // An empty text part (the last of a stream) says nothing, unless it carries a signature.
    if (part.text === '') return signature ? [{ type: 'thinking', text: '', signature }] : [];
    return signed({ type: 'text', text: part.text });
  }
  if (isObject(part.functionCall)) {
    const call = part.functionCall;
    const name = str(call.name);
    return signed({
      type: 'tool_call',
      id: ids.call(str(call.id), name),
      name,
      input: isObject(call.args) ? call.args : {},
    });
  }
  if (isObject(part.functionResponse)) {
    const response = part.functionResponse;
    return [resultPart(response, ids.result(str(response.id), str(response.name)))];
  }
  const file = isObject(part.inlineData)
    ? media(part.inlineData, 'inline')
    : isObject(part.fileData)
      ? media(part.fileData, 'file')
      : undefined;
  return file ? signed(file) : [];
}

/**
 * Consecutive thought parts are one thought: a stream splits it into pieces (a client keeps them
 * as it got them), and its signature may come in a piece of its own with no text. Read as one
 * signed thinking part, as the upstream that signed it needs it back.
 */
function joinThoughts(parts: Json[]): Json[] {
  const out: Json[] = [];
  for (const part of parts) {
    const last = out.at(-1);
    const signature = part.thoughtSignature;
    if (
      part.thought !== true &&
      typeof signature === 'string' &&
      !STAND_INS.has(signature) &&
      last?.thought === true &&
      str(last.text) !== '' &&
      !last.thoughtSignature
    ) {
      // The signature of the thought before it (see above): back on the thought it signs.
      const { thoughtSignature: _moved, ...rest } = part;
      out[out.length - 1] = { ...last, thoughtSignature: signature };
      out.push(rest);
    } else if (part.thought === true && last?.thought === true && !last.thoughtSignature) {
      out[out.length - 1] = {
        ...last,
        text: str(last.text) + str(part.text),
        ...(part.thoughtSignature !== undefined && { thoughtSignature: part.thoughtSignature }),
      };
    } else out.push(part);
  }
  return out;
}

export function readParts(parts: unknown, ids: CallIds): Part[] {
  return joinThoughts(objects(parts)).flatMap((p) => readPart(p, ids));
}

/** Only the kinds a model writes (what an answer's candidate holds). */
export function readOutputParts(parts: unknown, ids: CallIds): OutputPart[] {
  return readParts(parts, ids).filter(
    (p): p is OutputPart => p.type === 'text' || p.type === 'thinking' || p.type === 'tool_call',
  );
}

const DATA_URL = /^data:([^;,]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$/s;

function mediaPart(source: MediaSource, fallbackType: string): Json {
  if (source.kind === 'base64')
    return { inlineData: { mimeType: source.mediaType, data: source.data } };
  const inline = DATA_URL.exec(source.url);
  if (inline) return { inlineData: { mimeType: inline[1], data: inline[2] } };
  return { fileData: { mimeType: fallbackType, fileUri: source.url } };
}

/** Tool results as Gemini wants them: an object, `output` (or `error`) for plain text. */
function functionResponse(part: ToolResultPart, name: string, withIds: boolean): Json[] {
  const text = part.content
    .filter((p): p is TextPart => p.type === 'text')
    .map((p) => p.text)
    .join('\n');
  let response: Json | undefined;
  if (!part.isError) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isObject(parsed)) response = parsed;
    } catch {
      // Plain text: wrapped below.
    }
  }
  response ??= part.isError ? { error: text } : { output: text };
  const images = part.content
    .filter((p): p is ImagePart => p.type === 'image')
    .map((p) => mediaPart(p.source, 'image/jpeg'));
  return [
    {
      functionResponse: {
        ...(withIds && part.toolCallId && { id: part.toolCallId }),
        name,
        response,
      },
    },
    ...images,
  ];
}

export interface WriteOptions {
  /** Tool call id → tool name, for function responses (Gemini matches them by name). */
  readonly names: ReadonlyMap<string, string>;
  /** Put tool call ids on the wire (a Gemini client matches its responses by them). */
  readonly withIds: boolean;
  /** Sign the part after a thought rather than the thought (answers to Gemini clients). */
  readonly signatureAfterThought?: boolean;
}

/**
 * Neutral parts as one Gemini turn's parts. Empty text is left out (Gemini refuses it), and so
 * is thinking without a signature (another provider's reasoning, which Gemini cannot use) and
 * redacted thinking (another provider's ciphertext).
 */
export function writeParts(parts: readonly Part[], options: WriteOptions): Json[] {
  const out: Json[] = [];
  let pending = '';
  const push = (part: Json) => {
    out.push(pending ? { ...part, thoughtSignature: pending } : part);
    pending = '';
  };
  const hold = (signature: string) => {
    // Two signatures with no part between them: the first keeps an empty part of its own.
    if (pending) out.push({ text: '', thoughtSignature: pending });
    pending = signature;
  };
  for (const part of parts) {
    switch (part.type) {
      case 'text':
        if (part.text.length > 0) push({ text: part.text });
        break;
      case 'image':
        push(mediaPart(part.source, 'image/jpeg'));
        break;
      case 'document':
        push(mediaPart(part.source, 'application/pdf'));
        break;
      case 'thinking':
        if (!part.signature) break;
        if (part.text.length === 0) hold(part.signature);
        else if (options.signatureAfterThought) {
          out.push({ text: part.text, thought: true });
          hold(part.signature);
        } else out.push({ text: part.text, thought: true, thoughtSignature: part.signature });
        break;
      case 'redacted_thinking':
        break;
      case 'tool_call':
        push({
          functionCall: {
            ...(options.withIds && part.id && { id: part.id }),
            name: part.name,
            args: part.input,
          },
        });
        break;
      case 'tool_result': {
        const name = options.names.get(part.toolCallId) ?? part.toolCallId;
        for (const p of functionResponse(part, name, options.withIds)) push(p);
        break;
      }
    }
  }
  // A signature with nothing after it sat on an empty text part (Gemini ends streams so).
  if (pending) out.push({ text: '', thoughtSignature: pending });
  return out;
}

/** Tool call id → name over a whole history, for the function responses that answer them. */
export function toolNames(messages: readonly { readonly content: readonly Part[] }[]) {
  const names = new Map<string, string>();
  for (const m of messages)
    for (const p of m.content) if (p.type === 'tool_call') names.set(p.id, p.name);
  return names;
}
