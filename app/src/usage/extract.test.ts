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

  it('counts what the regex it replaced counted: runs of 1 KiB of base64 and their padding', () => {
    const regex = (body: string) => {
      let media = 0;
      const text = body.replace(/[A-Za-z0-9+/]{1024,}={0,2}/g, () => (media++, ''));
      return estimateTokens(text) + media * 1_600;
    };
    const b64 = (n: number) => Buffer.alloc(n, 'é').toString('base64');
    const bodies = [
      JSON.stringify({ a: b64(3000), b: 'x'.repeat(1023), c: `${b64(768)}===`, d: '日本語' }),
      `${'A'.repeat(1024)}==`,
      `${'A'.repeat(1023)}=`,
      `héllo ${'+/'.repeat(600)}`,
    ];
    for (const body of bodies) expect(estimatePromptTokens(body)).toBe(regex(body));
    // Runs of every length around the limit, in every mix of separators and padding.
    let seed = 7;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let round = 0; round < 200; round++) {
      let body = '';
      while (body.length < 6000) {
        body += 'A'.repeat([1, 5, 1023, 1024, 1025, 2047, 2048][random(7)]!);
        body += ['', '=', '==', '===', ' ', '"', 'é', '=A'][random(8)];
      }
      expect(estimatePromptTokens(body), body.length.toString()).toBe(regex(body));
    }
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
