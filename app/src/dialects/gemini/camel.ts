/**
 * Gemini's JSON takes every field in snake_case as well as camelCase (proto3 JSON), and Google's
 * own REST examples write `system_instruction`, `inline_data`, `function_call`. The reader works
 * on camelCase, so request field names are converted first — only field names: the keys of
 * function arguments and responses and of schemas' `properties` are the client's own words and
 * stay as written. Pass-through bodies are never converted.
 */
import type { Json } from '../../core/json.ts';
import { isObject } from '../../core/json.ts';

/** Values whose keys belong to the client, not to Gemini's schema. */
const OPAQUE = new Set([
  'args',
  'response',
  'properties',
  'parametersJsonSchema',
  'responseJsonSchema',
]);

const camel = (key: string): string => key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function convert(value: unknown, depth: number): unknown {
  if (depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => convert(v, depth + 1));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const name = camel(key);
    // Where both spellings are sent, the camelCase one wins (it is what SDKs write).
    if (name !== key && name in value) continue;
    out[name] = OPAQUE.has(name)
      ? name === 'properties' && isObject(v)
        ? Object.fromEntries(Object.entries(v).map(([k, s]) => [k, convert(s, depth + 1)]))
        : v
      : convert(v, depth + 1);
  }
  return out;
}

export function camelKeys<T>(body: T): T {
  return convert(body, 0) as T;
}
