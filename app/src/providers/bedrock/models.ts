/**
 * Which Bedrock model ids are Claude: those take the Messages body through InvokeModel when the
 * client speaks Messages. Base ids (`anthropic.claude-…`), cross-region inference profiles
 * (`us.`, `eu.`, `apac.`, `global.` and the like before it) and ARNs all carry the same marker.
 */
const CLAUDE = /(^|[./:])anthropic\.claude-/;

export const isClaudeOnBedrock = (modelId: string): boolean => CLAUDE.test(modelId);

/** The Messages API version Bedrock wants in the body (it takes no anthropic-version header). */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
