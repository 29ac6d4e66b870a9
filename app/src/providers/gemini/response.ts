/**
 * A GenerateContentResponse (a whole answer, or one chunk of a stream) read for the relay: the
 * first candidate's parts in neutral form, the finish reason, usage, and the answers that are
 * no answer — an error object in a 200, or an empty candidate (see noAnswer), which Gemini
 * sends when it gives up and which must not reach a client as an empty success.
 */
import { randomUUID } from 'node:crypto';
import type { ChatResponse } from '../../core/chat.ts';
import type { UpstreamFailure } from '../../core/failure.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { neutralFinishReason } from '../../dialects/gemini/finish.ts';
import type { Json } from '../../core/json.ts';
import { isObject, objects, str } from '../../core/json.ts';
import type { CallIds } from '../../dialects/gemini/parts.ts';
import { readOutputParts } from '../../dialects/gemini/parts.ts';
import { readGeminiUsage } from '../../dialects/gemini/usage.ts';
import { classifyGeminiErrorEvent } from './errors.ts';

/** Ids for the calls Gemini makes (it often sends none); other dialects need one per call. */
export const freshIds: CallIds = {
  call: (id) => id || `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
  result: (id) => id,
};

/** The first candidate, or undefined. */
export const candidateOf = (json: Json): Json | undefined => objects(json.candidates)[0];

export const partsOf = (candidate: Json | undefined): unknown =>
  isObject(candidate?.content) ? candidate.content.parts : undefined;

/** Whether the parts say anything: text, a thought, a call or a file (a bare signature does not). */
export function hasContent(parts: unknown): boolean {
  return objects(parts).some(
    (p) =>
      (typeof p.text === 'string' && p.text.length > 0) ||
      isObject(p.functionCall) ||
      isObject(p.inlineData) ||
      isObject(p.fileData) ||
      isObject(p.executableCode),
  );
}

/** Gemini's word for a function call it could not write, or one it was not allowed to make. */
const BROKEN_CALL = new Set(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL']);

/**
 * The answers that are no answer, so the attempt fails over rather than reach the client as an
 * empty success: a candidate that wrote nothing and ended on a broken function call, or one that
 * ended with STOP having written nothing and counted no answer tokens. Thoughts do not count:
 * Gemini thinks and then gives up, and candidatesTokenCount (completion less reasoning here)
 * leaves them out.
 */
export function noAnswer(
  reason: unknown,
  wroteSomething: boolean,
  usage: TokenUsage | undefined,
): UpstreamFailure | undefined {
  if (wroteSomething) return undefined;
  if (typeof reason === 'string' && BROKEN_CALL.has(reason))
    return { kind: 'malformed', message: `upstream ended with ${reason} and wrote nothing` };
  const answerTokens = (usage?.completionTokens ?? 0) - (usage?.reasoningTokens ?? 0);
  if (reason === 'STOP' && answerTokens <= 0)
    return {
      kind: 'malformed',
      message: 'upstream answered an empty candidate (finishReason STOP, no output tokens)',
    };
  return undefined;
}

export interface ReadAnswer {
  readonly usage?: TokenUsage;
  readonly response?: ChatResponse;
  readonly failure?: UpstreamFailure;
}

export function readGenerateContent(json: unknown, translate: boolean): ReadAnswer {
  if (!isObject(json))
    return { failure: { kind: 'malformed', message: 'upstream answer is not a JSON object' } };
  if (isObject(json.error)) return { failure: classifyGeminiErrorEvent(json, 'body') };
  const usage = readGeminiUsage(json.usageMetadata);
  const candidate = candidateOf(json);
  const blocked = isObject(json.promptFeedback) && str(json.promptFeedback.blockReason) !== '';
  if (!candidate && !blocked)
    return { failure: { kind: 'malformed', message: 'upstream answer has no candidate' } };
  const parts = partsOf(candidate);
  const failure = noAnswer(candidate?.finishReason, hasContent(parts), usage);
  if (failure) return { failure };
  if (!translate) return usage ? { usage } : {};
  const content = readOutputParts(parts, freshIds);
  const calledTools = content.some((p) => p.type === 'tool_call');
  const response: ChatResponse = {
    id: str(json.responseId),
    model: str(json.modelVersion),
    content,
    // A prompt blocked before any candidate was written is a content filter too.
    stopReason: candidate
      ? neutralFinishReason(candidate.finishReason, calledTools)
      : 'content_filter',
    ...(usage && { usage }),
  };
  return { response, ...(usage && { usage }) };
}
