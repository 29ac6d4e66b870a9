import type { TurnShape } from '../turns.ts';

/** How Converse blocks are told apart (providers/turns.ts). */
export const CONVERSE_SHAPE: TurnShape = {
  isToolResult: (b) => 'toolResult' in b,
  isToolCall: (b) => 'toolUse' in b,
  isSignedReasoning: (b) => 'reasoningContent' in b,
  // A turn of nothing but cache points (its text was blank) says nothing.
  isFiller: (b) => 'cachePoint' in b,
};
