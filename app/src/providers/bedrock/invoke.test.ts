import { describe, expect, it } from 'vitest';
import { bedrockBetas, toInvokeBody } from './invoke.ts';

describe('toInvokeBody', () => {
  it('drops model and stream, adds the Bedrock Messages version, keeps the rest as sent', () => {
    const json = {
      model: 'claude-sonnet-4-5',
      stream: true,
      max_tokens: 10,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Hi' }],
    };
    expect(toInvokeBody(json, undefined)).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 10,
      system: json.system,
      messages: json.messages,
    });
  });

  it('keeps only metadata.user_id and leaves Anthropic-only fields out', () => {
    expect(
      toInvokeBody(
        { messages: [], metadata: { user_id: 'u1', tags: ['x'] }, service_tier: 'auto' },
        undefined,
      ),
    ).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      messages: [],
      metadata: { user_id: 'u1' },
    });
    expect(toInvokeBody({ messages: [], metadata: { tags: ['x'] } }, undefined)).not.toHaveProperty(
      'metadata',
    );
  });

  it('keeps only the beta flags Bedrock takes, from the header and the body', () => {
    expect(
      bedrockBetas('claude-code-20250219, interleaved-thinking-2025-05-14,oauth-2025-04-20'),
    ).toEqual(['interleaved-thinking-2025-05-14']);
    expect(
      toInvokeBody(
        { anthropic_beta: ['context-1m-2025-08-07', 'files-api-2025-04-14'], messages: [] },
        'context-1m-2025-08-07',
      ).anthropic_beta,
    ).toEqual(['context-1m-2025-08-07']);
    expect(toInvokeBody({ messages: [] }, 'claude-code-20250219')).not.toHaveProperty(
      'anthropic_beta',
    );
  });
});
