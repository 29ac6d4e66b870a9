import type {
  BuildRequestInput,
  ProviderAdapter,
  UpstreamBody,
  UpstreamRequest,
} from '../types.ts';

export const openAiCompatibleAdapter: ProviderAdapter = {
  type: 'openai',
  buildRequest({ channel, endpoint, headers, json, form }: BuildRequestInput): UpstreamRequest {
    const out = new Headers(headers);
    // The channel's key replaces whatever the client sent: the client's key is ours, not theirs.
    out.set('authorization', `Bearer ${channel.apiKey}`);
    out.set('user-agent', 'llm-relay');
    out.set('accept', json?.stream === true ? 'text/event-stream' : 'application/json');
    for (const [name, value] of Object.entries(channel.headers)) out.set(name, value);
    let body: UpstreamBody | null = null;
    if (json) {
      out.set('content-type', 'application/json');
      body = JSON.stringify(json);
    } else if (form) {
      out.delete('content-type');
      body = form;
    }
    return { url: joinUrl(channel.baseUrl, endpoint), method: 'POST', headers: out, body };
  },
  buildListModels(channel) {
    const headers = new Headers({
      authorization: `Bearer ${channel.apiKey}`,
      'user-agent': 'llm-relay',
      accept: 'application/json',
    });
    for (const [name, value] of Object.entries(channel.headers)) headers.set(name, value);
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
