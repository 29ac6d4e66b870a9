import type { Context } from 'hono';
import type { z } from 'zod';
import { RelayError, invalidRequest } from '../errors.ts';
import { requestText } from './request-text.ts';
import { requestHeader } from '../node-bindings.ts';

/**
 * Deepest nesting a request body may have. Real requests (tool schemas included) stay far
 * below it; far deeper bodies parse fine (JSON.parse is iterative) but overflow the stack of
 * every recursive walk after it (JSON.stringify when the body is forwarded), which was a 500.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Nesting depth of a parsed JSON value, without recursion (so it cannot overflow itself). Two
 * stacks side by side and a for-in: every request body goes through it, and a [value, depth]
 * pair plus an Object.values array per nested object was a kilobyte of garbage per request.
 */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let max = 0;
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const d = depth + 1;
    if (d > max) max = d;
    if (max > limit) return max;
    if (Array.isArray(v)) {
      for (const child of v as unknown[]) {
        if (typeof child === 'object' && child !== null) {
          values.push(child);
          depths.push(d);
        }
      }
      continue;
    }
    for (const key in v) {
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(d);
      }
    }
  }
  return max;
}

/** Parses a JSON request body and checks it against `schema`; every failure is a clear 4xx. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  return (await readJsonText(c, schema)).body;
}

/**
 * readJson, with the text it parsed: for a route that forwards the client's own bytes, read
 * once (see requestText for how a body Node already holds is taken).
 */
export async function readJsonText<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<{ readonly body: z.infer<S>; readonly text: string }> {
  const type = requestHeader(c, 'content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new RelayError(
      415,
      'unsupported_media_type',
      `Expected 'Content-Type: application/json', got '${type.slice(0, 100) || 'none'}'.`,
    );
  }
  let json: unknown;
  let text: string;
  try {
    const read = requestText(c);
    text = typeof read === 'string' ? read : await read;
    json = JSON.parse(text);
  } catch (err) {
    if (err instanceof RelayError || (err as { name?: string }).name === 'HTTPException') throw err;
    throw invalidRequest(
      'We could not parse the JSON body of your request. The body must be valid JSON.',
    );
  }
  if (jsonDepth(json, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw invalidRequest(
      `The JSON body is nested too deeply (more than ${MAX_JSON_DEPTH} levels).`,
      null,
      'invalid_value',
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.length ? issue.path.join('.') : null;
    // zod 4 leaves the input out of issues; its message is how a missing field shows.
    const missing = issue?.code === 'invalid_type' && /received undefined$/.test(issue.message);
    const message = !issue
      ? 'Invalid request body.'
      : missing
        ? `Missing required parameter: '${param}'.`
        : `Invalid ${param ? `'${param}'` : 'request body'}: ${issue.message}`;
    throw invalidRequest(message, param, missing ? 'missing_required_parameter' : 'invalid_value');
  }
  return { body: parsed.data, text };
}

/**
 * The fields a route reads from a body (names only, no regex characters), for `verbatim`: one
 * pattern finds them all, and any \u escape, in a single pass over the text.
 */
export function routingFields(names: readonly string[]): RegExp {
  return new RegExp(`"(?:${names.join('|')})"|\\\\u`, 'g');
}

/**
 * The body as the client sent it, for an upstream of the client's own dialect, when nothing in
 * it changes (`unchanged`: the model keeps its name, no field is added) and the upstream cannot
 * read it differently from the relay: each field the relay routes, holds quota or bills by
 * appears at most once in the text, and no key hides behind a \u escape. A repeated one is
 * read by JSON.parse as its last value and by some upstreams as its first. Otherwise undefined:
 * the caller serialises what the relay read, as it always did. One regex pass costs a tenth of
 * JSON.stringify on a long conversation (~9 against ~50-75 µs for 47 KB).
 */
export function verbatim(raw: string, unchanged: boolean, fields: RegExp): string | undefined {
  if (!unchanged) return undefined;
  // exec on the shared regex, not matchAll (which clones the regex and makes an iterator):
  // 409 → 131 ns on a short chat body. Synchronous, so nothing else moves its lastIndex between.
  const seen: string[] = [];
  fields.lastIndex = 0;
  for (let m = fields.exec(raw); m !== null; m = fields.exec(raw)) {
    const found = m[0];
    if (found === '\\u' || seen.includes(found)) return undefined;
    seen.push(found);
  }
  return raw;
}

/**
 * `raw`, a JSON object's text as `verbatim` kept it, with `members` (`"key":value` pairs the
 * object does not have) in front of its own: a field the relay adds (OpenAI's ask for stream
 * usage) without writing the whole conversation anew. Every routed body has members of its own
 * (its model at least), so the comma always has one after it.
 */
export function withMembers(raw: string, members: string): string {
  const open = raw.indexOf('{') + 1;
  return `${raw.slice(0, open)}${members},${raw.slice(open)}`;
}
