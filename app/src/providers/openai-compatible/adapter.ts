import { usageFromPayload } from '../../usage/extract.ts';
import type {
  BuildRequestInput,
  HeaderRecord,
  ProviderAdapter,
  UpstreamBody,
  UpstreamRequest,
} from '../types.ts';
import { joinUrl, withChannelHeaders } from '../types.ts';
import { neutralToOpenAiChat } from './chat-request.ts';
import { openAiChatToResponse } from './chat-response.ts';
import { classifyOpenAiFailure } from './errors.ts';
import { OpenAiChatDecoder, OpenAiObservingDecoder } from './stream.ts';

function authHeaders(apiKey: string, accept: string): HeaderRecord {
  // The channel's key replaces whatever the client sent: the client's key is ours, not theirs.
  return { authorization: `Bearer ${apiKey}`, 'user-agent': 'llm-relay', accept };
}

/** Every provider with an OpenAI-style endpoint: OpenAI, DeepSeek, xAI, Qwen, Moonshot, vLLM… */
export const openAiCompatibleAdapter: ProviderAdapter = {
  type: 'openai',
  dialect: 'openai',
  // Other dialects reach it through the neutral chat; token counting is answered locally.
  serves: (operation, dialect) =>
    dialect === 'openai' ? operation !== 'count_tokens' : operation === 'chat',
  buildRequest({
    channel,
    operation,
    stream,
    headers,
    json,
    text,
    form,
    chat,
  }: BuildRequestInput): UpstreamRequest {
    const out: HeaderRecord = {
      ...headers,
      ...authHeaders(channel.apiKey, stream ? 'text/event-stream' : 'application/json'),
    };
    withChannelHeaders(out, channel);
    let body: UpstreamBody | null = null;
    const payload = chat ? neutralToOpenAiChat(chat) : json;
    if (payload) {
      out['content-type'] = 'application/json';
      body = !chat && text !== undefined ? text : JSON.stringify(payload);
    } else if (form) {
      // fetch writes the multipart content type, boundary included.
      delete out['content-type'];
      body = form;
    }
    const path = operation === 'chat' ? '/chat/completions' : operation;
    return { url: joinUrl(channel.baseUrl, path), method: 'POST', headers: out, body };
  },
  classifyError: classifyOpenAiFailure,
  decodeJson(json, _job, translate) {
    const usage = usageFromPayload(json);
    if (!translate) return usage ? { usage } : {};
    const response = openAiChatToResponse(json);
    if (!response) {
      return {
        failure: { kind: 'malformed', message: 'upstream answer is not a chat completion' },
      };
    }
    return { response, ...(usage && { usage }) };
  },
  streamDecoder: (job, translate) =>
    job.operation === 'chat'
      ? new OpenAiChatDecoder({ translate, clientWantsUsage: job.clientWantsUsage })
      : new OpenAiObservingDecoder(),
  buildListModels(channel) {
    const headers = withChannelHeaders(authHeaders(channel.apiKey, 'application/json'), channel);
    return { url: joinUrl(channel.baseUrl, '/models'), method: 'GET', headers, body: null };
  },
  parseModelList(json) {
    const data = (json as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) return [];
    return (
      data
        .map((m: { id?: unknown }) => m?.id)
        // Gemini lists `models/gemini-…` but is called with `gemini-…`.
        .map((id) => (typeof id === 'string' ? id.replace(/^models\//, '') : id))
        .filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 256)
    );
  },
};
