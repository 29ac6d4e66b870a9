/** The chat request every bench sends, and the keys of its relay and upstream. */
export const UPSTREAM_KEY = 'sk-bench-upstream-0123456789';
export const CLIENT_KEY = 'sk-bench-client-0123456789';
export const MODEL = 'gpt-4o-mini';

export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say hello.' }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}
