import type { FormData } from 'undici';
import type { ChannelConfig } from '../config.ts';

/** The OpenAI-style endpoints a channel can serve; the path after `/v1`. */
export type Endpoint =
  | '/chat/completions'
  | '/completions'
  | '/embeddings'
  | '/responses'
  | '/audio/transcriptions'
  | '/images/generations'
  | '/images/edits'
  | '/images/variations';

/** What fetch accepts as a request body. */
export type UpstreamBody = string | FormData;

/** Header names in lower case: a plain record, since one is built for every request. */
export type HeaderRecord = Record<string, string>;

export interface UpstreamRequest {
  readonly url: string;
  readonly method: 'POST' | 'GET';
  readonly headers: Readonly<HeaderRecord>;
  readonly body: UpstreamBody | null;
}

export interface BuildRequestInput {
  readonly channel: ChannelConfig;
  readonly endpoint: Endpoint;
  /** Headers from the client that survived the forwarding allowlist. */
  readonly headers: Readonly<HeaderRecord>;
  /** JSON body already rewritten for this upstream (model name mapped, usage requested). */
  readonly json?: Record<string, unknown>;
  /** A multipart body; fetch writes its content type with the boundary. */
  readonly form?: FormData;
}

/**
 * What it takes to speak to one kind of upstream. The OpenAI-compatible adapter covers
 * every provider with an OpenAI-style endpoint; a native adapter (Anthropic Messages,
 * Gemini generateContent) would translate the body and the stream here instead.
 */
export interface ProviderAdapter {
  readonly type: string;
  buildRequest(input: BuildRequestInput): UpstreamRequest;
  /** The upstream's model list, for channels configured with model patterns. */
  buildListModels(channel: ChannelConfig): UpstreamRequest;
  /** Model ids out of the list endpoint's JSON answer. */
  parseModelList(json: unknown): string[];
}
