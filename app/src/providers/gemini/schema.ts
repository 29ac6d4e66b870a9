/**
 * A tool's JSON Schema as Gemini's `parameters` accepts it. Gemini takes a subset of OpenAPI's
 * schema and answers anything else with a 400 ("Unknown name \"additionalProperties\"…",
 * "Invalid JSON payload"): MCP servers and zod-generated schemas are full of it. So:
 * - `$ref`s are resolved against `$defs`/`definitions` (a recursive one becomes a plain object);
 * - only the keys Gemini knows are kept: `additionalProperties`, `$schema`, `default`,
 *   `const`, `examples`, `$defs`… are dropped (a string `const` becomes a one-value enum);
 * - `type: ["string", "null"]` becomes `type: "string", nullable: true`; `oneOf` becomes `anyOf`;
 * - `format` stays only where Gemini supports it, `enum` only with string values, and
 *   `required` only names properties that exist.
 *
 * Each `$ref` is expanded where it is used, so chained `$defs` that each refer to the next several
 * times grow exponentially (10 levels of 8 refs is 2.6 KB in, 8^10 nodes out). The whole schema
 * therefore shares a budget of MAX_NODES output nodes; past it, what is left becomes a plain
 * object rather than an error, so a tool with an odd schema stays usable (its arguments are
 * then checked by the model's reading of the description only) and the request never hangs.
 */
import type { Json } from '../../core/json.ts';
import { isObject } from '../../core/json.ts';

const KEPT = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'items',
  'properties',
  'required',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'anyOf',
  'propertyOrdering',
  'minProperties',
  'maxProperties',
]);

const FORMATS: Readonly<Record<string, ReadonlySet<string>>> = {
  string: new Set(['enum', 'date-time']),
  integer: new Set(['int32', 'int64']),
  number: new Set(['float', 'double']),
};

/** Deeper than this a schema is cut to a plain object (a $ref cycle, or an absurd schema). */
const MAX_DEPTH = 32;

/** Output nodes for one whole schema; real tool schemas stay far below (a few hundred). */
export const MAX_NODES = 5000;

interface Defs {
  readonly defs: Json;
  readonly seen: readonly string[];
  /** Shared by every branch of one schema, so the bound holds however often a $ref is used. */
  readonly budget: { left: number };
}

function resolve(ref: string, ctx: Defs): Json | undefined {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m || ctx.seen.includes(ref)) return undefined;
  const target = ctx.defs[m[2]!.replace(/~1/g, '/').replace(/~0/g, '~')];
  return isObject(target) ? target : undefined;
}

function clean(schema: Json, ctx: Defs, depth: number): Json {
  if (depth > MAX_DEPTH || ctx.budget.left <= 0) return { type: 'object' };
  ctx.budget.left -= 1;
  if (typeof schema.$ref === 'string') {
    const target = resolve(schema.$ref, ctx);
    if (!target) return { type: 'object' };
    const { $ref: _ref, ...rest } = schema;
    return clean({ ...target, ...rest }, { ...ctx, seen: [...ctx.seen, schema.$ref] }, depth + 1);
  }
  const out: Json = {};
  let type = schema.type;
  if (Array.isArray(type)) {
    const real = type.filter((t) => t !== 'null');
    if (real.length < type.length) out.nullable = true;
    type = real[0];
  }
  if (typeof type === 'string') out.type = type;
  const sub = (v: unknown) => (isObject(v) ? clean(v, ctx, depth + 1) : { type: 'object' });
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'type') continue;
    if (key === 'const' && typeof value === 'string') out.enum = [value];
    if (!KEPT.has(key) && key !== 'oneOf') continue;
    switch (key) {
      case 'properties':
        if (isObject(value))
          out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sub(v)]));
        break;
      case 'items':
        out.items = sub(value);
        break;
      case 'anyOf':
      case 'oneOf':
        if (Array.isArray(value)) out.anyOf = value.map(sub);
        break;
      case 'enum':
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out.enum = value;
        break;
      case 'format':
        if (typeof type === 'string' && FORMATS[type]?.has(String(value))) out.format = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (Array.isArray(out.required)) {
    const props = isObject(out.properties) ? out.properties : {};
    out.required = out.required.filter((r) => typeof r === 'string' && r in props);
    if ((out.required as unknown[]).length === 0) delete out.required;
  }
  if (out.enum && !out.type) out.type = 'string';
  return out;
}

/** The schema cleaned for Gemini; undefined for a tool that takes no arguments. */
export function geminiSchema(schema: Json): Json | undefined {
  const defs = {
    ...(isObject(schema.definitions) ? schema.definitions : {}),
    ...(isObject(schema.$defs) ? schema.$defs : {}),
  };
  const out = clean(schema, { defs, seen: [], budget: { left: MAX_NODES } }, 0);
  const props = out.properties;
  if ((out.type ?? 'object') === 'object' && (!isObject(props) || Object.keys(props).length === 0))
    return undefined;
  return out;
}
