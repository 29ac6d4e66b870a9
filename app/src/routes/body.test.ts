import { describe, expect, it } from 'vitest';
import { routingFields, verbatim } from './body.ts';

const FIELDS = routingFields(['model', 'max_tokens', 'stream']);

describe('verbatim: the body as received, or undefined when it must be written anew', () => {
  it('keeps a body whose routed fields appear once, spacing and all', () => {
    const raw =
      '{ "model" : "m",\n "max_tokens": 5, "messages": [{"content": "a \\"model\\" b"}] }';
    expect(verbatim(raw, true, FIELDS)).toBe(raw);
  });

  it('refuses a body the relay changes (a renamed model, an added field)', () => {
    expect(verbatim('{"model":"m"}', false, FIELDS)).toBeUndefined();
  });

  it('refuses a routed field named twice, at the top or nested', () => {
    expect(verbatim('{"model":"a","stream":false,"stream":true}', true, FIELDS)).toBeUndefined();
    expect(
      verbatim('{"model":"a","tools":[{"schema":{"model":{}}}]}', true, FIELDS),
    ).toBeUndefined();
  });

  it('refuses any \\u escape, which could spell a routed key another way', () => {
    expect(verbatim('{"model":"a","mod\\u0065l":"b"}', true, FIELDS)).toBeUndefined();
    expect(verbatim('{"model":"a","content":"caf\\u00e9"}', true, FIELDS)).toBeUndefined();
  });
});
