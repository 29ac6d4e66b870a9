import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../config.ts';
import type { ChatRequest } from '../../core/chat.ts';
import { bedrockAdapter } from './adapter.ts';

const [channel] = parseRelayConfig(
  { channels: [{ name: 'br', type: 'bedrock', region: 'eu-central-1', models: ['x'] }] },
  {},
).channels;

const chat: ChatRequest = {
  model: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0',
  system: [],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  tools: [],
  stop: [],
  stream: false,
};

describe('bedrockAdapter', () => {
  it.each([
    ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    ['eu.anthropic.claude-haiku-4-5-20251001-v1:0', 'anthropic'],
    ['apac.anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic'],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    [
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'anthropic',
    ],
    ['us.amazon.nova-pro-v1:0', 'bedrock'],
    ['meta.llama3-70b-instruct-v1:0', 'bedrock'],
    ['mistral.mistral-large-2407-v1:0', 'bedrock'],
  ])('%s: Messages clients pass through when it is Claude (%s)', (model, dialect) => {
    expect(bedrockAdapter.modelDialect!(model)).toBe(dialect);
  });

  it('serves chat in every dialect and nothing else', () => {
    expect(bedrockAdapter.serves('chat', 'openai')).toBe(true);
    expect(bedrockAdapter.serves('chat', 'anthropic')).toBe(true);
    expect(bedrockAdapter.serves('count_tokens', 'anthropic')).toBe(false);
    expect(bedrockAdapter.serves('/embeddings', 'openai')).toBe(false);
  });

  it("builds Converse at the region's runtime path, the profile id in the path", () => {
    const req = bedrockAdapter.buildRequest({
      channel: channel!,
      operation: 'chat',
      stream: true,
      defaultMaxTokens: 64,
      headers: {},
      chat,
    });
    expect(req.url).toBe(
      'https://bedrock-runtime.eu-central-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream',
    );
    expect(JSON.parse(String(req.body))).toMatchObject({ inferenceConfig: { maxTokens: 64 } });
  });

  it('builds InvokeModel from a Messages body, the beta header filtered into the body', () => {
    const req = bedrockAdapter.buildRequest({
      channel: channel!,
      operation: 'chat',
      stream: false,
      defaultMaxTokens: 64,
      headers: { 'anthropic-beta': 'claude-code-20250219,context-1m-2025-08-07' },
      json: { model: chat.model, max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] },
    });
    expect(req.url).toMatch(/\/model\/eu\.anthropic\.claude-sonnet-4-5-20250929-v1%3A0\/invoke$/);
    expect(JSON.parse(String(req.body))).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      anthropic_beta: ['context-1m-2025-08-07'],
      max_tokens: 5,
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });
});
