import type { FormData } from 'undici';
import type { ChannelConfig } from '../config.ts';
import type { ChatEvent, ChatRequest, ChatResponse } from '../core/chat.ts';
import type { UpstreamFailure } from '../core/failure.ts';
import type { DialectName, Operation, ProxyJob } from '../core/job.ts';
import type { HeaderSource } from '../core/retry-after.ts';
import type { EventSourceMessage } from '../streaming/sse.ts';
import type { TokenUsage } from '../core/usage.ts';
import type { AbortSource } from '../routing/cancel.ts';
import type {
  UpstreamResponse,
  UpstreamTimeouts,
  WaitObserver,
} from '../routing/upstream-client.ts';

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

/**
 * One attempt's request. Exactly one of `json`, `form` (both the client's own body, rewritten
 * for this route: same dialect in and out) or `chat` (the neutral request, to translate) is set.
 */
export interface BuildRequestInput {
  readonly channel: ChannelConfig;
  readonly operation: Operation;
  readonly stream: boolean;
  /**
   * The upstream's name for the model, for dialects that put it in the path (Gemini) rather
   * than in the body.
   */
  readonly model?: string;
  /** Output tokens to ask for when the client named no limit and the upstream requires one. */
  readonly defaultMaxTokens: number;
  /** Client headers an upstream of the client's dialect may see; empty when translating. */
  readonly headers: Readonly<HeaderRecord>;
  readonly json?: Record<string, unknown>;
  /**
   * `json` as the client sent it (with any member the relay adds in front), when it may go
   * upstream as is: sent instead of serialising `json` again (a long conversation is then never
   * copied through JSON.stringify).
   */
  readonly text?: string;
  /** A multipart body; fetch writes its content type with the boundary. */
  readonly form?: FormData;
  /** The neutral request, model already mapped to the upstream's name. */
  readonly chat?: ChatRequest;
  /** Told what the translated request could not carry, for the operator's log. */
  readonly dropped?: (what: readonly string[]) => void;
}

export interface HttpFailureInput {
  readonly status: number;
  readonly headers?: HeaderSource;
  /** The response body (bounded by the caller); used for the error code and message. */
  readonly bodyText?: string;
  /** Epoch ms, for Retry-After HTTP-dates. */
  readonly now: number;
}

/** A whole 2xx JSON answer, read. */
export interface DecodedJson {
  readonly usage?: TokenUsage;
  /** The neutral answer; set only when the caller asked to translate. */
  readonly response?: ChatResponse;
  /** A 2xx that is not an answer (an error object, an empty candidate). */
  readonly failure?: UpstreamFailure;
}

/** What one upstream SSE message means, for the proxy's bookkeeping and for translation. */
export interface DecodedEvent {
  /** Neutral events; filled only when translating. */
  readonly events: readonly ChatEvent[];
  /** Pass the message on as is to a client of the upstream's own dialect. */
  readonly forward: boolean;
  /** It carries part of the answer (text, reasoning, a tool call), not just bookkeeping. */
  readonly content: boolean;
  /** Usage totals reported so far. */
  readonly usage?: TokenUsage;
  /** The answer is complete: a clean end of the body after this is a success, not a cut. */
  readonly finished: boolean;
  /** Nothing after this is worth reading ([DONE], message_stop): stop and drain the body. */
  readonly last: boolean;
  /** An error event inside the stream. */
  readonly failure?: UpstreamFailure;
  /** Text the model produced, for an estimate when the upstream reports no usage. */
  readonly text?: string;
}

/** Reads one upstream's stream. One per attempt: decoders keep per-stream state. */
export interface StreamDecoder {
  decode(message: EventSourceMessage): DecodedEvent;
}

/** What a transport of its own needs besides the request (see ProviderAdapter.transport). */
export interface TransportOptions {
  readonly channel: ChannelConfig;
  readonly timeouts: UpstreamTimeouts;
  /** The client's disconnect (or the failover budget). */
  readonly signal: AbortSource;
  readonly waits?: WaitObserver;
  /** Bounds for media the transport fetches itself (URL images), the image code's own. */
  readonly media: {
    readonly maxBytes: number;
    readonly timeoutMs: number;
    /** Client URLs may reach loopback and private addresses (never link-local ones). */
    readonly allowPrivate?: boolean;
  };
}

/**
 * What it takes to speak to one kind of upstream: build the request (the client's own body when
 * the dialects match, the neutral request otherwise), decode answers and stream events, and
 * classify errors. Everything provider-specific lives behind this.
 */
export interface ProviderAdapter {
  readonly type: string;
  /** The wire format the upstream speaks: a job in this dialect passes through untranslated. */
  readonly dialect: DialectName;
  /** The wire format for one upstream model, when it depends on the model (see dialectFor). */
  modelDialect?(upstreamModel: string): DialectName;
  /**
   * Sends the built request itself instead of the relay's HTTP client: for upstreams reached
   * through an SDK that signs requests and reads a binary framing (Bedrock). It answers like
   * the HTTP client: an error status with its body, JSON, or an SSE body.
   */
  transport?(req: UpstreamRequest, options: TransportOptions): Promise<UpstreamResponse>;
  /** Whether a channel of this type can serve the operation for a client of `dialect`. */
  serves(operation: Operation, dialect: DialectName): boolean;
  buildRequest(input: BuildRequestInput): UpstreamRequest;
  /** Classifies a non-2xx answer. */
  classifyError(input: HttpFailureInput): UpstreamFailure;
  decodeJson(json: unknown, job: ProxyJob, translate: boolean): DecodedJson;
  streamDecoder(job: ProxyJob, translate: boolean): StreamDecoder;
  /** The upstream's model list, for channels configured with model patterns. */
  buildListModels(channel: ChannelConfig): UpstreamRequest;
  /** Model ids out of the list endpoint's JSON answer. */
  parseModelList(json: unknown): string[];
}

/** The dialect a channel's upstream speaks for one model: a job in it passes through. */
export function dialectFor(adapter: ProviderAdapter, upstreamModel: string): DialectName {
  return adapter.modelDialect?.(upstreamModel) ?? adapter.dialect;
}

/** The channel's own headers win, whatever case the config spells them in. */
export function withChannelHeaders(
  out: HeaderRecord,
  channel: { readonly headers: Readonly<Record<string, string>> },
): HeaderRecord {
  for (const [name, value] of Object.entries(channel.headers)) out[name.toLowerCase()] = value;
  return out;
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
