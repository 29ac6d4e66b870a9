/**
 * A Gemini GenerateContentRequest: checked for what the relay relies on (everything else passes
 * through to gemini channels untouched), and read into the neutral chat for channels of other
 * dialects. The model and whether to stream come from the path, not the body.
 *
 * What the neutral chat cannot say — Google's own tools (googleSearch, codeExecution, urlContext),
 * executable code parts, cached content, safety settings — is left out of the translation and
 * named in `dropped`, as the Anthropic dialect does with its server tools.
 */
import { z } from 'zod';
import type {
  ChatMessage,
  ChatRequest,
  Effort,
  TextPart,
  ThinkingConfig,
  ToolChoice,
  ToolDef,
} from '../../core/chat.ts';
import { invalidRequest } from '../../errors.ts';
import { camelKeys } from './camel.ts';
import type { Json } from '../../core/json.ts';
import { count, isObject, objects, str } from '../../core/json.ts';
import type { CallIds } from './parts.ts';
import { readParts } from './parts.ts';

const part = z.looseObject({});
const content = z.looseObject({
  role: z.enum(['user', 'model', 'function', '']).optional(),
  parts: z.array(part),
});

export const generateContentSchema = z.looseObject({
  contents: z.array(content),
  systemInstruction: z.looseObject({ parts: z.array(part) }).optional(),
  tools: z.array(z.looseObject({})).optional(),
  toolConfig: z.looseObject({}).optional(),
  generationConfig: z.looseObject({}).optional(),
});

/** countTokens takes the contents alone, or a whole generateContentRequest. */
export const countTokensSchema = z.looseObject({
  contents: z.array(content).optional(),
  generateContentRequest: generateContentSchema.optional(),
});

export type GenerateContentRequest = z.infer<typeof generateContentSchema>;
export type CountTokensRequest = z.infer<typeof countTokensSchema>;

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path.map(String).join('.') ?? '';
  throw invalidRequest(
    `${name ? `${name}: ` : ''}${issue?.message ?? 'invalid request'}`,
    name || null,
  );
}

/**
 * Checked as sent: a pass-through needs nothing more, so the camelCase copy (camel.ts) is made
 * only when the request is read for translation.
 */
export const parseGenerateContent = (body: unknown) => parse(generateContentSchema, body);
/** Checked with field names in camelCase: a count is rare, and reads the wrapped request. */
export const parseCountTokens = (body: unknown) => parse(countTokensSchema, camelKeys(body));

/**
 * Ids for the calls of a history. Gemini matches a functionResponse to its call by id when the
 * client kept one, else by name, in order; the neutral chat matches by id, so every call gets
 * one and every response the id of the call it answers.
 */
class HistoryIds implements CallIds {
  readonly #open: { id: string; name: string }[] = [];
  #n = 0;

  call(id: string, name: string): string {
    const out = id || `call_gemini_${++this.#n}`;
    this.#open.push({ id: out, name });
    return out;
  }

  result(id: string, name: string): string {
    let at = id ? this.#open.findIndex((c) => c.id === id) : -1;
    if (at < 0) at = this.#open.findIndex((c) => c.name === name);
    if (at < 0) return id || `call_gemini_${++this.#n}`;
    return this.#open.splice(at, 1)[0]!.id;
  }
}

const EFFORT_BY_LEVEL: Readonly<Record<string, Effort>> = {
  minimal: 'minimal',
  low: 'low',
  medium: 'medium',
  high: 'high',
};

function thinking(config: Json): ThinkingConfig | undefined {
  const t = isObject(config.thinkingConfig) ? config.thinkingConfig : undefined;
  if (!t) return undefined;
  const budget = typeof t.thinkingBudget === 'number' ? t.thinkingBudget : undefined;
  const effort = EFFORT_BY_LEVEL[str(t.thinkingLevel).toLowerCase()];
  // -1 is Gemini's "dynamic": thinking on, with no budget to pass on.
  return {
    enabled: budget !== 0,
    ...(budget !== undefined && budget > 0 && { budgetTokens: budget }),
    ...(effort && { effort }),
  };
}

function toolChoice(config: unknown): ToolChoice | undefined {
  const f =
    isObject(config) && isObject(config.functionCallingConfig)
      ? config.functionCallingConfig
      : undefined;
  switch (f?.mode) {
    case 'AUTO':
      return { type: 'auto' };
    case 'NONE':
      return { type: 'none' };
    case 'ANY':
    case 'VALIDATED': {
      const allowed = Array.isArray(f.allowedFunctionNames) ? f.allowedFunctionNames : [];
      return allowed.length === 1 && typeof allowed[0] === 'string'
        ? { type: 'tool', name: allowed[0] }
        : { type: 'required' };
    }
    default:
      return undefined;
  }
}

export interface ChatTranslation {
  readonly chat: ChatRequest;
  readonly dropped: readonly string[];
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

function responseFormat(config: Json): ChatRequest['responseFormat'] {
  if (config.responseMimeType !== 'application/json') return undefined;
  const schema = isObject(config.responseJsonSchema)
    ? config.responseJsonSchema
    : isObject(config.responseSchema)
      ? lowerTypes(config.responseSchema)
      : undefined;
  return schema ? { type: 'json_schema', schema } : { type: 'json_object' };
}

/**
 * Other dialects' upstreams refuse a conversation that opens with the model speaking; Gemini
 * takes one (a greeting the app wrote). The neutral chat opens with a user turn that says as
 * little as possible.
 */
const OPENING: ChatMessage = { role: 'user', content: [{ type: 'text', text: '.' }] };

export function readChatRequest(
  request: GenerateContentRequest,
  model: string,
  stream: boolean,
): ChatTranslation {
  const body = camelKeys(request);
  const dropped = new Set<string>();
  const ids = new HistoryIds();
  const messages: ChatMessage[] = [];
  for (const turn of body.contents) {
    const parts = readParts(turn.parts, ids);
    for (const p of turn.parts)
      for (const key of ['executableCode', 'codeExecutionResult'])
        if (key in p) dropped.add(`${key} part`);
    messages.push({ role: turn.role === 'model' ? 'assistant' : 'user', content: parts });
  }
  if (messages[0]?.role === 'assistant') messages.unshift(OPENING);
  const system: TextPart[] = objects(body.systemInstruction?.parts)
    .filter((p) => typeof p.text === 'string' && p.text !== '')
    .map((p) => ({ type: 'text', text: str(p.text) }));
  const tools: ToolDef[] = [];
  for (const tool of objects(body.tools)) {
    const declarations = objects(tool.functionDeclarations ?? tool.function_declarations);
    for (const d of declarations) {
      const schema = isObject(d.parametersJsonSchema)
        ? d.parametersJsonSchema
        : isObject(d.parameters)
          ? lowerTypes(d.parameters)
          : undefined;
      tools.push({
        name: str(d.name),
        ...(typeof d.description === 'string' && { description: d.description }),
        inputSchema: schema ?? { type: 'object', properties: {} },
      });
    }
    for (const key of Object.keys(tool))
      if (key !== 'functionDeclarations') dropped.add(`tool ${key}`);
  }
  const config = body.generationConfig ?? {};
  const choice = tools.length > 0 ? toolChoice(body.toolConfig) : undefined;
  const think = thinking(config);
  const format = responseFormat(config);
  const stop = Array.isArray(config.stopSequences)
    ? config.stopSequences.filter((s): s is string => typeof s === 'string')
    : [];
  const chat: ChatRequest = {
    model,
    system,
    messages,
    tools,
    ...(choice && { toolChoice: choice }),
    ...(count(config.maxOutputTokens) !== undefined && {
      maxTokens: count(config.maxOutputTokens),
    }),
    ...(num(config.temperature) !== undefined && { temperature: num(config.temperature) }),
    ...(num(config.topP) !== undefined && { topP: num(config.topP) }),
    ...(num(config.topK) !== undefined && { topK: num(config.topK) }),
    stop,
    stream,
    ...(think && { thinking: think }),
    ...(format && { responseFormat: format }),
  };
  if (body.cachedContent !== undefined) dropped.add('cachedContent');
  return { chat, dropped: [...dropped] };
}

/**
 * Gemini's `parameters` and `responseSchema` are OpenAPI's schema: upper-case types (`OBJECT`,
 * `STRING`), `nullable: true` for a null that JSON Schema writes as a type of its own, and
 * `format: "enum"` on a string enum. Every other dialect's upstream speaks JSON Schema and refuses
 * those (OpenAI's strict mode: "'OBJECT' is not valid under any of the given schemas"), so they
 * are rewritten. `parametersJsonSchema`/`responseJsonSchema` are JSON Schema already: left alone.
 */
export function lowerTypes(schema: Json): Json {
  const out: Json = {};
  const sub = (v: unknown) => (isObject(v) ? lowerTypes(v) : v);
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'type' && typeof value === 'string') out.type = value.toLowerCase();
    else if (key === 'nullable' || (key === 'format' && value === 'enum')) continue;
    else if (key === 'properties' && isObject(value))
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sub(v)]));
    else if ((key === 'items' || key === 'additionalProperties') && isObject(value))
      out[key] = lowerTypes(value);
    else if (key === 'anyOf' && Array.isArray(value)) out.anyOf = value.map(sub);
    else out[key] = value;
  }
  if (schema.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.anyOf)) out.anyOf = [...out.anyOf, { type: 'null' }];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  }
  return out;
}
