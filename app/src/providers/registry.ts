import type { ProviderAdapter } from './types.ts';
import { anthropicAdapter } from './anthropic/adapter.ts';
import { bedrockAdapter } from './bedrock/adapter.ts';
import { geminiAdapter } from './gemini/adapter.ts';
import { openAiCompatibleAdapter } from './openai-compatible/adapter.ts';

/**
 * The only place that names providers. Channel `type`s map to adapters; the well-known
 * providers below let `npm start` pick channels up from environment variables alone.
 */
export const adapters = {
  openai: openAiCompatibleAdapter,
  anthropic: anthropicAdapter,
  bedrock: bedrockAdapter,
  gemini: geminiAdapter,
} as const satisfies Record<string, ProviderAdapter>;

export type ChannelType = keyof typeof adapters;
export const channelTypes = Object.keys(adapters) as [ChannelType, ...ChannelType[]];
/** A channel without a `type` speaks the OpenAI wire format. */
export const defaultChannelType: ChannelType = 'openai';

export function adapterFor(type: ChannelType): ProviderAdapter {
  return adapters[type];
}

export interface WellKnownProvider {
  /** Channel name when created from the environment. */
  readonly id: string;
  readonly keyEnv: string;
  /** Overrides the base URL when set (e.g. a proxy or Azure-style gateway). */
  readonly baseUrlEnv: string;
  readonly baseUrl: string;
  readonly type: ChannelType;
  /** Model name patterns this provider serves; `*` matches any run of characters. */
  readonly models: readonly string[];
}

/**
 * Anthropic speaks Messages natively and Gemini generateContent (its OpenAI endpoint drops thought
 * signatures and cached-token usage); every other provider here the OpenAI wire format.
 */
export const wellKnownProviders: readonly WellKnownProvider[] = [
  {
    id: 'openai',
    keyEnv: 'OPENAI_API_KEY',
    baseUrlEnv: 'OPENAI_BASE_URL',
    baseUrl: 'https://api.openai.com/v1',
    type: 'openai',
    models: [
      'gpt-*',
      'chatgpt-*',
      'o1*',
      'o3*',
      'o4*',
      'text-embedding-*',
      'whisper-*',
      'dall-e-*',
      'gpt-image-*',
    ],
  },
  {
    id: 'deepseek',
    keyEnv: 'DEEPSEEK_API_KEY',
    baseUrlEnv: 'DEEPSEEK_BASE_URL',
    baseUrl: 'https://api.deepseek.com/v1',
    type: 'openai',
    models: ['deepseek-*'],
  },
  {
    id: 'anthropic',
    keyEnv: 'ANTHROPIC_API_KEY',
    baseUrlEnv: 'ANTHROPIC_BASE_URL',
    baseUrl: 'https://api.anthropic.com/v1',
    type: 'anthropic',
    models: ['claude-*'],
  },
  {
    id: 'gemini',
    keyEnv: 'GEMINI_API_KEY',
    baseUrlEnv: 'GEMINI_BASE_URL',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    type: 'gemini',
    models: ['gemini-*'],
  },
  {
    // Imagen is served by Gemini's OpenAI endpoint (/images/generations), with the same key.
    id: 'gemini-images',
    keyEnv: 'GEMINI_API_KEY',
    baseUrlEnv: 'GEMINI_OPENAI_BASE_URL',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai',
    type: 'openai',
    models: ['imagen-*'],
  },
  {
    id: 'xai',
    keyEnv: 'XAI_API_KEY',
    baseUrlEnv: 'XAI_BASE_URL',
    baseUrl: 'https://api.x.ai/v1',
    type: 'openai',
    models: ['grok-*'],
  },
  {
    id: 'qwen',
    keyEnv: 'DASHSCOPE_API_KEY',
    baseUrlEnv: 'DASHSCOPE_BASE_URL',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    type: 'openai',
    models: ['qwen*', 'qwq-*'],
  },
  {
    id: 'moonshot',
    keyEnv: 'MOONSHOT_API_KEY',
    baseUrlEnv: 'MOONSHOT_BASE_URL',
    baseUrl: 'https://api.moonshot.cn/v1',
    type: 'openai',
    models: ['moonshot-*', 'kimi-*'],
  },
];
