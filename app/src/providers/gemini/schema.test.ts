import { describe, expect, it } from 'vitest';
import { MAX_NODES, geminiSchema } from './schema.ts';

/** Chained $defs, each naming the next `refs` times: small to send, exponential to expand. */
function chained(levels: number, refs: number): Record<string, unknown> {
  const defs: Record<string, unknown> = { [`d${levels}`]: { type: 'string' } };
  for (let i = 0; i < levels; i++) {
    const props = Array.from({ length: refs }, (_, k) => [`p${k}`, { $ref: `#/$defs/d${i + 1}` }]);
    defs[`d${i}`] = { type: 'object', properties: Object.fromEntries(props) };
  }
  return { type: 'object', properties: { x: { $ref: '#/$defs/d0' } }, $defs: defs };
}

function nodes(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + nodes(v), 0);
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Object.values(value).reduce((n: number, v) => n + nodes(v), 0);
}

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

  it('bounds a schema whose $refs expand exponentially, cutting the rest to plain objects', () => {
    for (const [levels, refs] of [
      [10, 8],
      [12, 4],
    ] as const) {
      const started = performance.now();
      const out = geminiSchema(chained(levels, refs));
      expect(performance.now() - started).toBeLessThan(1000);
      // Every output schema node is one cleaned node (properties maps add one node each).
      expect(nodes(out)).toBeLessThan(2 * MAX_NODES);
      expect(/"p\d":\{"type":"object"\}/.test(JSON.stringify(out))).toBe(true);
    }
  });

  it('keeps a modest schema with shared $refs whole', () => {
    const out = geminiSchema(chained(3, 3));
    expect(JSON.stringify(out).includes('{"type":"object"}')).toBe(false);
    expect(JSON.stringify(out).match(/"type":"string"/g)).toHaveLength(27);
  });
});
