import type {
  BuildRequestInput,
  HeaderRecord,
  ProviderAdapter,
  UpstreamBody,
  UpstreamRequest,
} from '../types.ts';

/** The channel's own headers win, whatever case the config spells them in. */
function withChannelHeaders(out: HeaderRecord, channel: { headers: Record<string, string> }): void {
  for (const [name, value] of Object.entries(channel.headers)) out[name.toLowerCase()] = value;
}

export const openAiCompatibleAdapter: ProviderAdapter = {
  type: 'openai',
  buildRequest({ channel, endpoint, headers, json, form }: BuildRequestInput): UpstreamRequest {
    const out: HeaderRecord = {
      ...headers,
      // The channel's key replaces whatever the client sent: the client's key is ours, not theirs.
      authorization: `Bearer ${channel.apiKey}`,
      'user-agent': 'llm-relay',
      accept: json?.stream === true ? 'text/event-stream' : 'application/json',
    };
    withChannelHeaders(out, channel);
    let body: UpstreamBody | null = null;
    if (json) {
      out['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form) {
      // fetch writes the multipart content type, boundary included.
      delete out['content-type'];
      body = form;
    }
    return { url: joinUrl(channel.baseUrl, endpoint), method: 'POST', headers: out, body };
  },
  buildListModels(channel) {
    const headers: HeaderRecord = {
      authorization: `Bearer ${channel.apiKey}`,
      'user-agent': 'llm-relay',
      accept: 'application/json',
    };
    withChannelHeaders(headers, channel);
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

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
