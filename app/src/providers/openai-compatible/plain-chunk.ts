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
 * name; either one not followed directly by its colon sends the chunk to the full parse.
 */
const KEY =
  /"(delta|content|finish_reason|usage|error|type|tool_calls|function_call|reasoning|reasoning_content)"(\s*:)?/g;

/** The keys whose null the full parse reads as no value: no usage, reasoning, calls or error. */
const NULL_SAYS_NOTHING = new Set([
  'usage',
  'error',
  'type',
  'tool_calls',
  'function_call',
  'reasoning',
  'reasoning_content',
]);

/**
 * The text of a plain chunk ('' for one that carries none, such as the role chunk), or undefined
 * when the chunk needs the full parse: more than one `delta`, `content` or `finish_reason`, a
 * finish_reason other than null, content other than a string, or any of the other keys with a
 * value other than null.
 */
export function plainChunkText(data: string): string | undefined {
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d) return undefined;
  let delta = -1;
  let content = -1;
  let finish = -1;
  KEY.lastIndex = 0;
  for (let m = KEY.exec(data); m; m = KEY.exec(data)) {
    const after = KEY.lastIndex;
    if (m[2] !== ':') return undefined;
    if (m[1] === 'delta' && delta < 0) delta = after;
    else if (m[1] === 'content' && content < 0) content = after;
    else if (m[1] === 'finish_reason' && finish < 0) finish = after;
    // OpenAI sends `"usage":null` in every chunk when asked for usage (the relay always asks),
    // DeepSeek and OpenRouter a null reasoning beside the text: a null tells the parse nothing.
    else if (!NULL_SAYS_NOTHING.has(m[1]!) || !data.startsWith('null', after)) return undefined;
  }
  if (delta < 0 || finish < 0 || !data.startsWith('null', finish)) return undefined;
  if (content < 0) return '';
  if (content < delta || data.charCodeAt(content) !== 0x22) return undefined;
  // A direct key of the delta: the delta is an object, and no object opens or closes between.
  if (data.charCodeAt(delta) !== 0x7b) return undefined;
  for (let i = delta; i < content; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x7d || (c === 0x7b && i !== delta)) return undefined;
  }
  const end = closingQuote(data, content + 1);
  if (end < 0) return undefined;
  const body = data.slice(content + 1, end);
  if (!body.includes('\\')) return body;
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch {
    return undefined;
  }
}

/** Where the string literal whose body starts at `from` ends: the first quote not escaped. */
function closingQuote(s: string, from: number): number {
  for (let at = s.indexOf('"', from); at >= 0; at = s.indexOf('"', at + 1)) {
    let slashes = 0;
    while (s.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at;
  }
  return -1;
}
