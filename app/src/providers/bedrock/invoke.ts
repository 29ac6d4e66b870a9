/**
 * A Messages client's own body for Claude on Bedrock (InvokeModel and its streaming twin): near
 * pass-through. Bedrock takes the model from the path and the stream choice from the operation,
 * wants `anthropic_version: bedrock-2023-05-31` in the body, and takes beta flags as
 * `anthropic_beta` in the body; a flag it does not know fails the whole request ("invalid beta
 * flag"), and SDKs and Claude Code send several Anthropic-only ones, so only the flags Bedrock
 * documents are kept. Its schema refuses inputs it does not know ("Extra inputs are not
 * permitted"), so Anthropic-only fields are left out too.
 */
import { isObject } from '../../core/json.ts';
import { BEDROCK_ANTHROPIC_VERSION } from './models.ts';

/** Beta flags Bedrock's Claude models take (Bedrock user guide, Anthropic Claude parameters). */
const BEDROCK_BETAS = new Set([
  'computer-use-2024-10-22',
  'computer-use-2025-01-24',
  'computer-use-2025-11-24',
  'token-efficient-tools-2025-02-19',
  'interleaved-thinking-2025-05-14',
  'output-128k-2025-02-19',
  'dev-full-thinking-2025-05-14',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'effort-2025-11-24',
  'tool-search-tool-2025-10-19',
  'tool-examples-2025-10-29',
]);

/** The client's `anthropic-beta` header (comma-separated) less what Bedrock would refuse. */
export function bedrockBetas(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((flag) => flag.trim())
    .filter((flag) => BEDROCK_BETAS.has(flag));
}

export function toInvokeBody(
  json: Readonly<Record<string, unknown>>,
  betaHeader: string | undefined,
): Record<string, unknown> {
  const {
    model: _model,
    stream: _stream,
    anthropic_beta: inBody,
    // Anthropic's API only: Bedrock has its own tiers and refuses the field.
    service_tier: _tier,
    metadata,
    ...rest
  } = json;
  // Bedrock's Messages schema allows metadata.user_id and refuses anything else in it.
  const userId = isObject(metadata) ? metadata.user_id : undefined;
  const betas = [
    ...new Set([
      ...bedrockBetas(betaHeader),
      ...bedrockBetas(Array.isArray(inBody) ? inBody.join(',') : undefined),
    ]),
  ];
  return {
    anthropic_version: BEDROCK_ANTHROPIC_VERSION,
    ...rest,
    ...(typeof userId === 'string' && { metadata: { user_id: userId } }),
    ...(betas.length > 0 && { anthropic_beta: betas }),
  };
}
