/** Gemini's finishReason in neutral words and back. */
import type { StopReason } from '../../core/chat.ts';

/** Gemini's safety and policy stops: all of them are a content filter to other dialects. */
const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
]);

/**
 * `calledTools`: Gemini says STOP after function calls; other dialects' agents wait for tool_use.
 * Gemini's other endings (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS,
 * OTHER…) read as a plain end here, because only a candidate that wrote something gets this
 * far: one that wrote nothing is no answer and fails over (providers/gemini/response.ts).
 */
export function neutralFinishReason(reason: unknown, calledTools: boolean): StopReason | null {
  if (typeof reason !== 'string' || reason === '' || reason === 'FINISH_REASON_UNSPECIFIED')
    return null;
  if (FILTERED.has(reason)) return 'content_filter';
  if (reason === 'MAX_TOKENS') return 'max_tokens';
  return calledTools ? 'tool_use' : 'end_turn';
}

export function geminiFinishReason(reason: StopReason | null): string {
  switch (reason) {
    case 'max_tokens':
    case 'context_window_exceeded':
      return 'MAX_TOKENS';
    case 'content_filter':
    case 'refusal':
      return 'SAFETY';
    default:
      return 'STOP';
  }
}
