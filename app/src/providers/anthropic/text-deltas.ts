import { isObject } from '../../core/json.ts';
import { TextShape, closingQuote } from '../../streaming/text-shape.ts';
import { eventObject } from '../stream-event.ts';

/** The body put in place of a learnt event's text, to prove where its text lies. */
const PROBE = 'probe';

/**
 * A pass-through stream's text deltas, read against the shape of one already parsed (TextShape):
 * a Messages stream is mostly `content_block_delta` events whose `text_delta` differs only in
 * its text, and each was a JSON.parse (~700 ns in a loop). A shape is learnt from an event the
 * decoder parsed as a text delta, once its literal is proven to be the delta's text: the same
 * event with another body parses as a text delta of that body. So any event of that shape is a
 * text delta the decoder would read the same way. A new shape is learnt only after the last one
 * served an event: an upstream whose events never repeat one costs a failed comparison each, not
 * a second parse.
 */
export class TextDeltaReader {
  readonly #shape = new TextShape();
  #learnt = false;
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

  /** After the decoder parsed `data` as a text delta: learns its shape, if it can prove it. */
  learn(data: string): void {
    if (this.#learnt && !this.#served) return;
    const key = data.indexOf('"text"');
    if (key < 0) return;
    let at = afterSpace(data, key + '"text"'.length);
    if (data.charCodeAt(at) !== 0x3a) return;
    at = afterSpace(data, at + 1);
    if (data.charCodeAt(at) !== 0x22) return;
    const start = at + 1;
    const end = closingQuote(data, start);
    if (end < 0) return;
    // No backslash outside the text: what lies around it is the same tokens whatever the text.
    const slash = data.indexOf('\\');
    if (slash >= 0 && (slash < start || data.indexOf('\\', end) >= 0)) return;
    const probe = eventObject(`${data.slice(0, start)}${PROBE}${data.slice(end)}`);
    const delta = probe?.delta;
    if (probe?.type !== 'content_block_delta' || !isObject(delta)) return;
    if (delta.type !== 'text_delta' || delta.text !== PROBE) return;
    this.#shape.learn(data, start, end);
    this.#learnt = true;
    this.#served = false;
  }
}

function afterSpace(data: string, from: number): number {
  let at = from;
  let c = data.charCodeAt(at);
  while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = data.charCodeAt(++at);
  return at;
}
