import { isObject } from '../../core/json.ts';
import { TextShape, afterColon, afterSpace, closingQuote } from '../../streaming/text-shape.ts';
import { eventObject } from '../stream-event.ts';

/** The body put in place of a learnt event's text, to prove where its text lies. */
const PROBE = 'probe';
const OTHER_PROBE = 'other probe';

/**
 * A pass-through stream's text deltas, read against the shape of one already parsed (TextShape):
 * a Messages stream is mostly `content_block_delta` events whose `text_delta` differs only in
 * its text, and each was a JSON.parse (~700 ns in a loop). A shape is learnt from an event the
 * decoder parsed as a text delta, once its first `"text"` literal is proven to be the delta's
 * text: the same event with a body other than the parsed text in its place parses as a text
 * delta of that body (a text taken from elsewhere, a duplicate key or another object, would stay
 * the parsed text). So any event of that shape is a text delta the decoder would read the
 * same way. One proof (one more parse) per shape: another is tried only after the last learnt
 * shape served an event, so an upstream whose deltas never repeat a shape, or never pass the
 * proof, pays one extra parse, not one an event.
 */
export class TextDeltaReader {
  readonly #shape = new TextShape();
  #tried = false;
  #served = false;

  /** The parts read against (for tests). */
  get shape(): TextShape['parts'] {
    return this.#shape.parts;
  }

  /** The text of `data` when it has the learnt shape; undefined when the decoder must parse it. */
  read(data: string): string | undefined {
    const text = this.#shape.read(data);
    if (text !== undefined) this.#served = true;
    return text;
  }

  /** After the decoder parsed `data` as a text delta of `text`: learns its shape, if provable. */
  learn(data: string, text: string): void {
    if (this.#tried && !this.#served) return;
    const key = data.indexOf('"text"');
    if (key < 0) return;
    const colon = afterColon(data, key + '"text"'.length);
    if (colon < 0) return;
    const at = afterSpace(data, colon);
    if (data.charCodeAt(at) !== 0x22) return;
    const start = at + 1;
    const end = closingQuote(data, start);
    if (end < 0) return;
    // No backslash outside the text: what lies around it is the same tokens whatever the text.
    const slash = data.indexOf('\\');
    if (slash >= 0 && (slash < start || data.indexOf('\\', end) >= 0)) return;

    this.#tried = true;
    this.#served = false;
    const body = text === PROBE ? OTHER_PROBE : PROBE;
    const probe = eventObject(`${data.slice(0, start)}${body}${data.slice(end)}`);
    const delta = probe?.delta;
    if (probe?.type !== 'content_block_delta' || !isObject(delta)) return;
    if (delta.type !== 'text_delta' || delta.text !== body) return;
    this.#shape.learn(data, start, end);
  }
}
