/**
 * Channel type `gemini`: Google's Gemini API (`baseUrl` like
 * https://generativelanguage.googleapis.com/v1beta; `/models/{model}:generateContent`,
 * `:streamGenerateContent?alt=sse`, `:countTokens`, `/models`), the key as `x-goog-api-key`
 * (never in the URL, where access logs would keep it). Gemini-dialect clients pass through
 * untouched but for the model in the path; others are translated to the neutral chat and back.
 */
import type { ChannelConfig } from '../../config.ts';
import type { DialectName, Operation } from '../../core/job.ts';
import { isObject } from '../../core/json.ts';
import type {
  BuildRequestInput,
  HeaderRecord,
  ProviderAdapter,
  UpstreamRequest,
} from '../types.ts';
import { joinUrl, withChannelHeaders } from '../types.ts';
import { classifyGeminiFailure } from './errors.ts';
import { toGenerateContentRequest } from './request.ts';
import { readGenerateContent } from './response.ts';
import { GeminiStreamDecoder } from './stream.ts';

function headers(channel: ChannelConfig, accept: string): HeaderRecord {
  return withChannelHeaders(
    {
      // The channel's key replaces whatever the client sent: the client's key is ours, not theirs.
      'x-goog-api-key': channel.apiKey,
      'user-agent': 'llm-relay',
      accept,
    },
    channel,
  );
}

/** `models/gemini-2.5-flash` and `gemini-2.5-flash` name one model; the path wants it once. */
const modelPath = (model: string) =>
  `/models/${encodeURIComponent(model.replace(/^models\//, ''))}`;

function method(operation: Operation, stream: boolean): string {
  if (operation === 'count_tokens') return ':countTokens';
  return stream ? ':streamGenerateContent?alt=sse' : ':generateContent';
}

/**
 * A countTokens body that wraps a whole generateContentRequest names the model in it too:
 * that name must be the upstream's as well.
 */
function countBody(json: Record<string, unknown>, model: string): Record<string, unknown> {
  const inner = json.generateContentRequest;
  if (!isObject(inner)) return json;
  return {
    ...json,
    generateContentRequest: { ...inner, model: `models/${model.replace(/^models\//, '')}` },
  };
}

export const geminiAdapter: ProviderAdapter = {
  type: 'gemini',
  dialect: 'gemini',

  serves(operation: Operation, dialect: DialectName): boolean {
    if (operation === 'chat') return true;
    // Gemini counts only Gemini requests; other dialects' counts are answered by the relay.
    return operation === 'count_tokens' && dialect === 'gemini';
  },

  buildRequest(input: BuildRequestInput): UpstreamRequest {
    const model = input.model ?? input.chat?.model;
    if (!model) throw new Error('gemini adapter: the model goes in the path, and none was given');
    let body: Record<string, unknown> | string;
    if (input.json && input.operation !== 'count_tokens' && input.text !== undefined)
      body = input.text;
    else if (input.json)
      body = input.operation === 'count_tokens' ? countBody(input.json, model) : input.json;
    else if (input.chat && input.operation === 'chat') body = toGenerateContentRequest(input.chat);
    else
      throw new Error('gemini adapter: only chat translates; other requests pass through as json');
    const out = headers(input.channel, input.stream ? 'text/event-stream' : 'application/json');
    out['content-type'] = 'application/json';
    return {
      url: joinUrl(input.channel.baseUrl, modelPath(model) + method(input.operation, input.stream)),
      method: 'POST',
      headers: out,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    };
  },

  classifyError: classifyGeminiFailure,

  decodeJson(json, job, translate) {
    // countTokens answers {totalTokens}: nothing is billed for counting.
    if (job.operation === 'count_tokens') return {};
    return readGenerateContent(json, translate);
  },

  streamDecoder: (_job, translate) => new GeminiStreamDecoder(translate),

  buildListModels(channel) {
    return {
      url: joinUrl(channel.baseUrl, '/models?pageSize=1000'),
      method: 'GET',
      headers: headers(channel, 'application/json'),
      body: null,
    };
  },

  parseModelList(json) {
    const models = (json as { models?: unknown } | null)?.models;
    if (!Array.isArray(models)) return [];
    return models
      .map((m: { name?: unknown }) =>
        typeof m?.name === 'string' ? m.name.replace(/^models\//, '') : undefined,
      )
      .filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 256);
  },
};
