import { describe, expect, it } from 'vitest';
import { jsonDepth, routingFields, verbatim, withMembers } from './body.ts';

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

describe('withMembers: members added in front of a body kept as received', () => {
  it('puts them right after the opening brace, the rest byte for byte', () => {
    const raw = ' {\n "model" : "m", "messages": [{"content": "{ not a brace"}] }';
    const out = withMembers(raw, '"stream_options":{"include_usage":true}');
    expect(out).toBe(
      ' {"stream_options":{"include_usage":true},\n "model" : "m", "messages": [{"content": "{ not a brace"}] }',
    );
    expect(JSON.parse(out)).toEqual({
      stream_options: { include_usage: true },
      ...(JSON.parse(raw) as object),
    });
  });
});

describe('jsonDepth', () => {
  it('counts the deepest nesting of objects and arrays, scalars as 0', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth(JSON.parse('{"a":[1,{"b":[[]]}],"c":{"d":2},"__proto__":{"e":{}}}'))).toBe(5);
    // A "__proto__" key is the body's own field, walked like any other.
    expect(jsonDepth(JSON.parse('{"__proto__":{"e":{"f":{"g":{"h":{}}}}}}'))).toBe(6);
  });

  it('stops early once past the limit', () => {
    const deep = JSON.parse('['.repeat(1000) + ']'.repeat(1000)) as unknown;
    expect(jsonDepth(deep)).toBe(1000);
    expect(jsonDepth(deep, 10)).toBe(11);
  });
});
