/**
 * The neutral chat as a Gemini GenerateContentRequest: `contents` of user and model turns (one
 * turn per role change, empty turns left out), `systemInstruction`, `functionDeclarations` with
 * schemas Gemini accepts (schema.ts), `toolConfig`, and `generationConfig` for limits,
 * sampling, stop sequences, JSON output and thinking. Function responses name the function they
 * answer (Gemini matches them by name); ids generated for Gemini's calls stay on the relay's
 * side, so they are not sent.
 */
import type { ChatRequest, Effort, ThinkingConfig, ToolChoice, ToolDef } from '../../core/chat.ts';
import type { Json } from '../../core/json.ts';
import { SKIP_SIGNATURE, toolNames, writeParts } from '../../dialects/gemini/parts.ts';
import { geminiSchema } from './schema.ts';

/**
 * Gemini 3 checks the first functionCall of each model turn for a thoughtSignature and answers a
 * 400 ("Function call is missing a thought_signature") without one. The neutral chat keeps the
 * signature as a thinking part ahead of the calls, which lands on whichever part came next (a
 * text, a thought), so it moves onto the first call here; a turn without any gets the stand-in.
 */
function signFirstCall(parts: Json[], standIn: boolean): Json[] {
  const first = parts.findIndex((p) => p.functionCall);
  if (first < 0 || parts[first]!.thoughtSignature) return parts;
  const donor = parts.findIndex((p, i) => i < first && typeof p.thoughtSignature === 'string');
  if (donor < 0 && !standIn) return parts;
  const signature = donor < 0 ? SKIP_SIGNATURE : parts[donor]!.thoughtSignature;
  return parts.flatMap((part, i) => {
    if (i === first) return [{ ...part, thoughtSignature: signature }];
    if (i !== donor) return [part];
    const { thoughtSignature: _moved, ...rest } = part;
    // An empty text only ever carried the signature: Gemini refuses it bare.
    return rest.text === '' ? [] : [rest];
  });
}

function contents(chat: ChatRequest): Json[] {
  const names = toolNames(chat.messages);
  const out: { role: string; parts: Json[] }[] = [];
  for (const message of chat.messages) {
    const parts = writeParts(message.content, { names, withIds: false });
    if (parts.length === 0) continue;
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = out.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else out.push({ role, parts });
  }
  const standIn = /gemini-3/.test(chat.model);
  return out.map((turn) =>
    turn.role === 'model' ? { ...turn, parts: signFirstCall(turn.parts, standIn) } : turn,
  );
}

function declaration(tool: ToolDef): Json {
  const parameters = geminiSchema(tool.inputSchema);
  return {
    name: tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    ...(parameters && { parameters }),
  };
}

function toolConfig(choice: ToolChoice | undefined): Json | undefined {
  switch (choice?.type) {
    case undefined:
      return undefined;
    case 'auto':
      return { functionCallingConfig: { mode: 'AUTO' } };
    case 'none':
      return { functionCallingConfig: { mode: 'NONE' } };
    case 'required':
      return { functionCallingConfig: { mode: 'ANY' } };
    case 'tool':
      return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  }
}

/** Gemini 2.5 takes a token budget; these stand in for an effort when no budget was given. */
const BUDGET: Readonly<Record<Effort, number>> = {
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 32768,
  max: 32768,
};

/**
 * Gemini 3 thinks in levels (low, high), 2.5 in budgets; thoughts are asked for whenever thinking
 * is on, so clients of other dialects see the reasoning their own API would show. Off is a zero
 * budget, which only models that can stop thinking take (2.5 Pro cannot: it is left to think).
 * Gemini 3 cannot stop thinking either, and left alone it thinks at `high`: off asks for the
 * least it takes (`minimal` on Flash, `low` on Pro), without thoughts in the answer.
 */
function thinkingConfig(model: string, thinking: ThinkingConfig | undefined): Json | undefined {
  if (!thinking) return undefined;
  const levels = /gemini-3/.test(model);
  if (!thinking.enabled) {
    if (levels) return { thinkingLevel: /flash/.test(model) ? 'minimal' : 'low' };
    if (/pro/.test(model)) return undefined;
    return { thinkingBudget: 0 };
  }
  if (thinking.budgetTokens !== undefined && !levels)
    return { includeThoughts: true, thinkingBudget: thinking.budgetTokens };
  if (thinking.effort && levels) {
    const low = thinking.effort === 'minimal' || thinking.effort === 'low';
    return { includeThoughts: true, thinkingLevel: low ? 'low' : 'high' };
  }
  if (thinking.effort) return { includeThoughts: true, thinkingBudget: BUDGET[thinking.effort] };
  return { includeThoughts: true };
}

function generationConfig(chat: ChatRequest): Json {
  const format = chat.responseFormat;
  const schema = format?.type === 'json_schema' ? geminiSchema(format.schema) : undefined;
  const thinking = thinkingConfig(chat.model, chat.thinking);
  return {
    ...(chat.maxTokens !== undefined && { maxOutputTokens: chat.maxTokens }),
    ...(chat.temperature !== undefined && { temperature: chat.temperature }),
    ...(chat.topP !== undefined && { topP: chat.topP }),
    ...(chat.topK !== undefined && { topK: Math.round(chat.topK) }),
    // Gemini takes at most 5 stop sequences.
    ...(chat.stop.length > 0 && { stopSequences: chat.stop.slice(0, 5) }),
    ...(format && { responseMimeType: 'application/json' }),
    ...(schema && { responseSchema: schema }),
    ...(thinking && { thinkingConfig: thinking }),
  };
}

export function toGenerateContentRequest(chat: ChatRequest): Json {
  const system = chat.system.filter((p) => p.text.length > 0).map((p) => ({ text: p.text }));
  const tools = chat.tools.map(declaration);
  const config = tools.length > 0 ? toolConfig(chat.toolChoice) : undefined;
  const generation = generationConfig(chat);
  return {
    contents: contents(chat),
    ...(system.length > 0 && { systemInstruction: { parts: system } }),
    ...(tools.length > 0 && { tools: [{ functionDeclarations: tools }] }),
    ...(config && { toolConfig: config }),
    ...(Object.keys(generation).length > 0 && { generationConfig: generation }),
  };
}
