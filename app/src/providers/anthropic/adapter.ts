/**
 * Channel type `anthropic`: an upstream that speaks Anthropic Messages
 * (`baseUrl` like https://api.anthropic.com/v1; `/messages`, `/messages/count_tokens`, `/models`).
 * Anthropic-dialect clients pass through untouched; others are translated to chat and back.
 */
import type { ChannelConfig } from '../../config.ts';
import type { DialectName, Operation } from '../../core/job.ts';
import type {
  BuildRequestInput,
  HeaderRecord,
  ProviderAdapter,
  UpstreamRequest,
} from '../types.ts';
import { joinUrl, withChannelHeaders } from '../types.ts';
import { classifyAnthropicErrorEvent, classifyAnthropicFailure } from './errors.ts';
import { toolNameMap } from './names.ts';
import { toMessagesRequest } from './request.ts';
import { fromMessage } from './response.ts';
import { AnthropicStreamDecoder } from './stream.ts';
import { readAnthropicUsage } from './usage.ts';

/** The API version every Anthropic SDK sends; a client's own choice wins on pass-through. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** Client headers an Anthropic upstream may see, and only on pass-through. */
const PASS_THROUGH_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

function baseHeaders(
  channel: ChannelConfig,
  client: Readonly<HeaderRecord>,
  accept: string,
): HeaderRecord {
  const out: HeaderRecord = {
    // The channel's key replaces whatever the client sent: the client's key is ours, not theirs.
    'x-api-key': channel.apiKey,
    'anthropic-version': ANTHROPIC_VERSION,
    'user-agent': 'llm-relay',
    accept,
  };
  for (const name of PASS_THROUGH_HEADERS) {
    const value = client[name];
    if (value) out[name] = value;
  }
  return withChannelHeaders(out, channel);
}

/** A neutral chat as a Messages body (counting is pass-through only: see serves). */
function translatedBody(input: BuildRequestInput): Record<string, unknown> {
  if (!input.chat || input.operation !== 'chat')
    throw new Error('anthropic adapter: only chat translates; other requests pass through as json');
  const { stream: _stream, ...body } = toMessagesRequest(input.chat, input.defaultMaxTokens);
  return input.stream ? { ...body, stream: true } : body;
}

export const anthropicAdapter: ProviderAdapter = {
  type: 'anthropic',
  dialect: 'anthropic',

  serves(operation: Operation, dialect: DialectName): boolean {
    if (operation === 'chat') return true;
    // Counting is Anthropic's own endpoint; other dialects' counts have no answer shape here.
    return operation === 'count_tokens' && dialect === 'anthropic';
  },

  buildRequest(input: BuildRequestInput): UpstreamRequest {
    const path = input.operation === 'count_tokens' ? '/messages/count_tokens' : '/messages';
    const passThrough = input.json !== undefined;
    const body = input.json ?? translatedBody(input);
    const headers = baseHeaders(
      input.channel,
      passThrough ? input.headers : {},
      input.stream ? 'text/event-stream' : 'application/json',
    );
    headers['content-type'] = 'application/json';
    return {
      url: joinUrl(input.channel.baseUrl, path),
      method: 'POST',
      headers,
      body: passThrough && input.text !== undefined ? input.text : JSON.stringify(body),
    };
  },

  classifyError: classifyAnthropicFailure,

  decodeJson(json, job, translate) {
    const malformed = {
      failure: {
        kind: 'malformed' as const,
        message: 'upstream answered 2xx with something that is not a message',
      },
    };
    if (typeof json !== 'object' || json === null) return malformed;
    const body = json as Record<string, unknown>;
    if (body.type === 'error') return { failure: classifyAnthropicErrorEvent(body, 'body') };
    // count_tokens answers {input_tokens}: nothing is billed for counting.
    if (job.operation === 'count_tokens') return {};
    const usage = readAnthropicUsage(body.usage);
    if (!translate) return body.type === 'message' ? { ...(usage && { usage }) } : malformed;
    const response = fromMessage(body, toolNameMap(job.chat?.()));
    return response ? { response, ...(usage && { usage }) } : malformed;
  },

  streamDecoder(job, translate) {
    return new AnthropicStreamDecoder(toolNameMap(translate ? job.chat?.() : undefined), translate);
  },

  buildListModels(channel) {
    return {
      url: joinUrl(channel.baseUrl, '/models'),
      method: 'GET',
      headers: baseHeaders(channel, {}, 'application/json'),
      body: null,
    };
  },

  parseModelList(json) {
    const data = (json as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) return [];
    return data
      .map((m: { id?: unknown }) => m?.id)
      .filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 256);
  },
};
