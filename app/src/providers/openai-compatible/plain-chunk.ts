import { TextShape, afterColon, closingQuote, stringBody } from '../../streaming/text-shape.ts';

/**
 * Nearly every chunk of a chat stream is one choice's text delta and nothing else. Passed through
 * untranslated, all the relay needs from one is that text (content, and billing's estimate), and
 * JSON.parse of every chunk was the largest cost a streamed answer had in the relay's own code.
 * This reads such a chunk in one regex pass over its keys instead; anything that is not plainly
 * one (usage, an error, a finish, tool calls, reasoning, several choices, a key where it did not
 * expect one) goes to the full parse. It does not validate the JSON, so it is used only after the
 * first content (see OpenAiChatDecoder): a malformed chunk before it still fails the attempt and
 * can fail over; after it, a pass-through forwards the upstream's bytes as they came.
 */

/**
 * The names that decide: the keys the full parse reads, and `type`/`error` (an error event). A
 * quote inside a string value is escaped, so a match is a key, or a whole string value of that
 * name; either one not followed directly by its colon sends the chunk to the full parse. No
 * capture groups: test() makes no match array (exec's, with its two captured strings, was 5 KB
 * of garbage per 20-chunk stream); which name matched is read off the text.
 */
const KEY =
  /"(?:delta|content|finish_reason|usage|error|type|tool_calls|function_call|reasoning|reasoning_content)"/g;

/** The names whose null the full parse reads as no value: no usage, reasoning, calls or error. */
const NULL_SAYS_NOTHING = [
  'usage',
  'error',
  'type',
  'tool_calls',
  'function_call',
  'reasoning',
  'reasoning_content',
];

/** Whether the key KEY just matched, ending (its closing quote included) at `end`, is `name`. */
function matched(data: string, end: number, name: string): boolean {
  return (
    data.charCodeAt(end - name.length - 2) === 0x22 && data.startsWith(name, end - name.length - 1)
  );
}

/** Whether the key that ends at `end` is one of NULL_SAYS_NOTHING (a loop: no closure per call). */
function saysNothingWhenNull(data: string, end: number): boolean {
  for (const name of NULL_SAYS_NOTHING) if (matched(data, end, name)) return true;
  return false;
}

/**
 * The text of a plain chunk ('' for one that carries none, such as the role chunk), or undefined
 * when the chunk needs the full parse: more than one `delta`, `content` or `finish_reason`, a
 * finish_reason other than null, content other than a string, any of the other keys with a
 * value other than null, or a backslash anywhere but in the text.
 */
export function plainChunkText(data: string): string | undefined {
  return plainChunk(data)?.text;
}

/** A plain chunk's text, and where its string literal's body lies (-1 when it has no content). */
interface PlainChunk {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const NO_TEXT: PlainChunk = { text: '', start: -1, end: -1 };

function plainChunk(data: string): PlainChunk | undefined {
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d) return undefined;
  let delta = -1;
  let content = -1;
  let finish = -1;
  KEY.lastIndex = 0;
  while (KEY.test(data)) {
    const end = KEY.lastIndex;
    const after = afterColon(data, end);
    if (after < 0) return undefined;
    // `"content"` also ends `"reasoning_content"`: the quote before the name tells them apart.
    if (delta < 0 && matched(data, end, 'delta')) delta = after;
    else if (content < 0 && matched(data, end, 'content')) content = after;
    else if (finish < 0 && matched(data, end, 'finish_reason')) finish = after;
    // OpenAI sends `"usage":null` in every chunk when asked for usage (the relay always asks),
    // DeepSeek and OpenRouter a null reasoning beside the text: a null tells the parse nothing.
    else if (!data.startsWith('null', after) || !saysNothingWhenNull(data, end)) return undefined;
  }
  if (delta < 0 || finish < 0 || !data.startsWith('null', finish)) return undefined;
  // A backslash outside the text (a key spelt with \u escapes, a quote inside another string)
  // could hide a key from the regex: such a chunk goes to the full parse.
  const slash = data.indexOf('\\');
  if (content < 0) return slash < 0 ? NO_TEXT : undefined;
  if (content < delta || data.charCodeAt(content) !== 0x22) return undefined;
  // A direct key of the delta: the delta is an object, and no object opens or closes between.
  if (data.charCodeAt(delta) !== 0x7b) return undefined;
  for (let i = delta; i < content; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x7d || (c === 0x7b && i !== delta)) return undefined;
  }
  const end = closingQuote(data, content + 1);
  if (end < 0) return undefined;
  if (slash >= 0 && (slash < content || data.indexOf('\\', end) >= 0)) return undefined;
  const text = stringBody(data.slice(content + 1, end));
  return text === undefined ? undefined : { text, start: content + 1, end };
}

/** The key of OpenAI's stream obfuscation: random characters, a new length on every chunk. */
const PAD = '"obfuscation":"';

/**
 * A stream's plain chunks, read against the last one the full check took (TextShape): ~130 ns a
 * chunk against the regex pass's ~400 (`node bench/plain-chunks.ts`). Any other chunk takes the
 * full check, which learns its shape when it is plain.
 */
export class PlainChunkReader {
  readonly #shape = new TextShape(PAD);

  /** The shape read against: the last plain chunk's parts around its text (and padding). */
  get shape(): TextShape['parts'] {
    return this.#shape.parts;
  }

  /**
   * The text of `data` when it is a plain chunk, as the full parse reads it; undefined when it
   * needs the full parse. Like plainChunkText it does not validate the JSON (it is used only
   * after the first content), and it may take a chunk plainChunkText leaves to the parse, such
   * as one whose text is a key's name: both then give the parse's answer.
   */
  read(data: string): string | undefined {
    const known = this.#shape.read(data);
    if (known !== undefined) return known;
    const plain = plainChunk(data);
    if (plain === undefined) return undefined;
    // A plain chunk has no backslash outside its text, as TextShape.learn asks.
    if (plain.start >= 0) this.#shape.learn(data, plain.start, plain.end);
    return plain.text;
  }
}
