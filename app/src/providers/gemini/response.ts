/**
 * A GenerateContentResponse (a whole answer, or one chunk of a stream) read for the relay: the
 * first candidate's parts in neutral form, the finish reason, usage, and the answers that are
 * no answer — an error object in a 200, or an empty candidate that says STOP having written
 * nothing, which Gemini sends when it gives up and which must not reach a client as an empty
 * success.
 */
import { randomUUID } from 'node:crypto';
import type { ChatResponse } from '../../core/chat.ts';
import type { UpstreamFailure } from '../../core/failure.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { neutralFinishReason } from '../../dialects/gemini/finish.ts';
import type { Json } from '../../dialects/gemini/json.ts';
import { isObject, objects, str } from '../../dialects/gemini/json.ts';
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

export function emptyCandidate(): UpstreamFailure {
  return {
    kind: 'malformed',
    message: 'upstream answered an empty candidate (finishReason STOP, no output tokens)',
  };
}

/** An answer that ended with STOP, wrote nothing and counted no output is no answer. */
export function isEmptyStop(
  reason: unknown,
  wroteSomething: boolean,
  usage: TokenUsage | undefined,
) {
  return reason === 'STOP' && !wroteSomething && (usage?.completionTokens ?? 0) === 0;
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
  if (isEmptyStop(candidate?.finishReason, hasContent(parts), usage))
    return { failure: emptyCandidate() };
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
