import { describe, expect, it } from 'vitest';
import { geminiSchema } from './schema.ts';

describe('geminiSchema', () => {
  it('drops what Gemini refuses and resolves $ref', () => {
    expect(
      geminiSchema({
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        additionalProperties: false,
        definitions: {
          Point: { type: 'object', properties: { x: { type: 'number', default: 0 } } },
        },
        properties: {
          at: { $ref: '#/definitions/Point', description: 'where' },
          kind: { const: 'dot' },
          size: { type: 'integer', const: 3, examples: [3] },
        },
        required: ['at', 'missing'],
      }),
    ).toEqual({
      type: 'object',
      properties: {
        at: { type: 'object', properties: { x: { type: 'number' } }, description: 'where' },
        kind: { type: 'string', enum: ['dot'] },
        size: { type: 'integer' },
      },
      required: ['at'],
    });
  });

  it('cuts a recursive $ref to a plain object instead of looping', () => {
    const tree = {
      type: 'object',
      $defs: { Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } } },
      properties: { root: { $ref: '#/$defs/Node' } },
    };
    expect(geminiSchema(tree)).toEqual({
      type: 'object',
      properties: {
        root: { type: 'object', properties: { child: { type: 'object' } } },
      },
    });
  });

  it('turns nullable type lists, oneOf, formats and enums into what Gemini reads', () => {
    expect(
      geminiSchema({
        type: 'object',
        properties: {
          when: { type: ['string', 'null'], format: 'date-time' },
          url: { type: 'string', format: 'uri' },
          n: { type: 'integer', format: 'int64', enum: [1, 2] },
          either: { oneOf: [{ type: 'string' }, { type: 'number' }] },
          list: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 3 },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        when: { type: 'string', nullable: true, format: 'date-time' },
        url: { type: 'string' },
        n: { type: 'integer', format: 'int64' },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        list: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 3 },
      },
    });
  });

  it('gives a tool without arguments no parameters at all', () => {
    expect(geminiSchema({ type: 'object', properties: {} })).toBeUndefined();
    expect(geminiSchema({})).toBeUndefined();
  });
});
