/**
 * What Claude on Bedrock accepts through Converse, by generation: the same rules as Anthropic's
 * own API (anthropic/models.ts, thinking.ts), since Bedrock hands the request to the same
 * model. Thinking and top_k travel in `additionalModelRequestFields`; temperature and top_p in
 * `inferenceConfig`. Thinking gives way where Claude would refuse it: a forced tool call, or a
 * tool loop whose assistant turns lost their signed reasoning.
 */
import type { ChatRequest } from '../../core/chat.ts';
import { modelTraits } from '../anthropic/models.ts';
import { sampling } from '../anthropic/request.ts';
import { thinkingParams } from '../anthropic/thinking.ts';
import { toolLoopUnsigned } from '../turns.ts';
import type { Block, Turn } from '../turns.ts';
import { CONVERSE_SHAPE } from './converse-shape.ts';

/** The Claude model name inside a Bedrock id (`us.anthropic.claude-…-v1:0` → `claude-…-v1:0`). */
const claudeName = (modelId: string): string => modelId.slice(modelId.indexOf('claude-'));

export interface ClaudeSettings {
  readonly maxTokens: number;
  /** For inferenceConfig. */
  readonly inference: { temperature?: number; topP?: number };
  /** For additionalModelRequestFields. */
  readonly fields: Block;
}

export function claudeSettings(
  chat: ChatRequest,
  turns: readonly Turn[],
  forcedTool: boolean,
  defaultMaxTokens: number,
): ClaudeSettings {
  const traits = modelTraits(claudeName(chat.model));
  const thinking = toolLoopUnsigned(turns, CONVERSE_SHAPE) ? undefined : chat.thinking;
  const think = thinkingParams(thinking, traits, chat.maxTokens ?? defaultMaxTokens, forcedTool);
  const on = think.thinking !== undefined && think.thinking.type !== 'disabled';
  const s = sampling(chat, traits, on);
  return {
    maxTokens: think.maxTokens,
    inference: {
      ...(typeof s.temperature === 'number' && { temperature: s.temperature }),
      ...(typeof s.top_p === 'number' && { topP: s.top_p }),
    },
    fields: {
      ...(think.thinking && { thinking: think.thinking }),
      ...(typeof s.top_k === 'number' && { top_k: s.top_k }),
    },
  };
}
