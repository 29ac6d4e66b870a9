import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, estimateTokens, readUsage } from './extract.ts';

describe('estimatePromptTokens', () => {
  it('counts an inline image as one image, not as its base64', () => {
    const image = 'iVBORw0KGgo'.repeat(100_000); // ~1.1 MB of base64
    const body = JSON.stringify({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } },
          ],
        },
      ],
    });
    const tokens = estimatePromptTokens(body);
    expect(tokens).toBeGreaterThanOrEqual(1_600);
    expect(tokens).toBeLessThan(1_700);
    expect(estimateTokens(body)).toBeGreaterThan(300_000);
  });

  it('counts plain text as estimateTokens does', () => {
    const body = JSON.stringify({
      messages: [{ role: 'user', content: '你好，世界 hello world'.repeat(50) }],
    });
    expect(estimatePromptTokens(body)).toBe(estimateTokens(body));
  });
});

describe('readUsage', () => {
  it('reads cache hits and reasoning as OpenAI and DeepSeek report them', () => {
    expect(
      readUsage({
        prompt_tokens: 100,
        completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 60 },
        completion_tokens_details: { reasoning_tokens: 5 },
      }),
    ).toEqual({ promptTokens: 100, completionTokens: 20, cacheReadTokens: 60, reasoningTokens: 5 });
    expect(
      readUsage({ prompt_tokens: 10, completion_tokens: 1, prompt_cache_hit_tokens: 8 }),
    ).toMatchObject({
      cacheReadTokens: 8,
    });
    expect(readUsage(null)).toBeUndefined();
  });
});
