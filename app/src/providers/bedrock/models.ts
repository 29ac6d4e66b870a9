/**
 * Which Bedrock model ids are Claude: those take the Messages body through InvokeModel when the
 * client speaks Messages. Base ids (`anthropic.claude-…`), cross-region inference profiles
 * (`us.`, `eu.`, `apac.`, `global.` and the like before it) and ARNs all carry the same marker.
 */
const CLAUDE = /(^|[./:])anthropic\.claude-/;

export const isClaudeOnBedrock = (modelId: string): boolean => CLAUDE.test(modelId);

/** The Messages API version Bedrock wants in the body (it takes no anthropic-version header). */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

const NOVA = /(^|[./:])amazon\.nova-/;

/**
 * Where a model takes `cachePoint` blocks in Converse: only Claude and Amazon Nova cache prompts
 * on Bedrock, and Nova only in system and messages (not after tool definitions). Any other model
 * (Llama, Mistral…) answers a ValidationException for a cache point, and Claude Code marks
 * every request, so the marks are dropped where they cannot go.
 */
export function cachePointFields(modelId: string): { prompt: boolean; tools: boolean } {
  if (isClaudeOnBedrock(modelId)) return { prompt: true, tools: true };
  if (NOVA.test(modelId)) return { prompt: true, tools: false };
  return { prompt: false, tools: false };
}
