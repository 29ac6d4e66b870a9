import { describe, expect, it } from 'vitest';
import { endpointOf } from './usage.ts';

describe('endpointOf', () => {
  it('drops the version', () => {
    expect(endpointOf('/v1/chat/completions')).toBe('/chat/completions');
    expect(endpointOf('/v1beta/models')).toBe('/models');
    expect(endpointOf('/v1/messages/count_tokens')).toBe('/messages/count_tokens');
  });

  it('drops the model of a Gemini call, under either version', () => {
    expect(endpointOf('/v1beta/models/gemini-2.5-pro:generateContent')).toBe(
      '/models:generateContent',
    );
    expect(endpointOf('/v1/models/gemini-2.5-flash:streamGenerateContent')).toBe(
      '/models:streamGenerateContent',
    );
  });

  it('leaves other paths alone', () => {
    expect(endpointOf('/v1')).toBe('/v1');
    expect(endpointOf('/v1betax/models')).toBe('/v1betax/models');
    expect(endpointOf('/v2/chat/completions')).toBe('/v2/chat/completions');
    expect(endpointOf('/v1/files/a:b/c')).toBe('/files/a:b/c');
  });
});
