/**
 * Turns for upstreams that take Claude's conversation rules (Anthropic Messages, Bedrock
 * Converse): roles alternate, each tool call is answered once, a user turn's tool results come
 * first, a final assistant prefill may not end in whitespace, and thinking is refused in a tool
 * loop whose assistant turns lost their signed reasoning. Each provider says how its blocks look.
 */
import type { ChatMessage, Part } from '../core/chat.ts';

export type Block = Record<string, unknown>;

export interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** How one upstream's blocks are told apart. */
export interface TurnShape {
  isToolResult(block: Block): boolean;
  isToolCall(block: Block): boolean;
  /** Signed reasoning, which must open an assistant turn of a tool loop for thinking to stay on. */
  isSignedReasoning(block: Block): boolean;
  /** Blocks that say nothing on their own: a turn of only these is left out. */
  isFiller?(block: Block): boolean;
}

/** Tool results first, in their order; then everything else, in its order. */
function resultsFirst(blocks: Block[], shape: TurnShape): Block[] {
  const results = blocks.filter((b) => shape.isToolResult(b));
  return results.length === 0
    ? blocks
    : [...results, ...blocks.filter((b) => !shape.isToolResult(b))];
}

/**
 * The neutral messages as alternating turns: turns of one role merge, a repeated result for one
 * tool call (a client retrying a step, a 400 upstream) is dropped, and results lead user turns.
 */
export function toTurns(
  messages: readonly ChatMessage[],
  shape: TurnShape,
  blocksOf: (part: Part) => readonly Block[],
): Turn[] {
  const answered = new Set<string>();
  const turns: Turn[] = [];
  for (const message of messages) {
    const blocks: Block[] = [];
    for (const part of message.content) {
      if (part.type === 'tool_result') {
        if (answered.has(part.toolCallId)) continue;
        answered.add(part.toolCallId);
      }
      blocks.push(...blocksOf(part));
    }
    if (blocks.every((b) => shape.isFiller?.(b) === true)) continue;
    const last = turns.at(-1);
    if (last?.role === message.role) last.content.push(...blocks);
    else turns.push({ role: message.role, content: blocks });
  }
  for (const turn of turns)
    if (turn.role === 'user') turn.content = resultsFirst(turn.content, shape);
  return turns;
}

/** Strips a final assistant prefill's trailing whitespace, which the upstream refuses. */
export function trimPrefill(turns: Turn[]): void {
  const last = turns.at(-1);
  if (last?.role !== 'assistant') return;
  const block = last.content.at(-1);
  if (typeof block?.text !== 'string') return;
  const text = block.text.trimEnd();
  if (text.length > 0) last.content[last.content.length - 1] = { ...block, text };
  else last.content.pop();
  if (last.content.length === 0) turns.pop();
}

/**
 * Whether an assistant turn of the tool loop still under way calls a tool without opening with
 * signed reasoning (a client that dropped it, or another provider's): Claude refuses thinking
 * then, so such a conversation can only go on without it.
 */
export function toolLoopUnsigned(turns: readonly Turn[], shape: TurnShape): boolean {
  const lastAsk = turns.findLastIndex(
    (t) => t.role === 'user' && t.content.some((b) => !shape.isToolResult(b)),
  );
  return turns.slice(lastAsk + 1).some((t) => {
    if (t.role !== 'assistant' || !t.content.some((b) => shape.isToolCall(b))) return false;
    const first = t.content[0];
    return first === undefined || !shape.isSignedReasoning(first);
  });
}
