/**
 * One client request as the proxy sees it, whatever dialect it came in: the floor that route
 * handlers (through their dialect), provider adapters and the proxy all stand on.
 */
import type { FormData } from 'undici';
import type { RelayError } from '../errors.ts';
import type { ChatEvent, ChatRequest, ChatResponse } from './chat.ts';

/** The wire formats clients speak to the relay and channels speak to their upstreams. */
export type DialectName = 'openai' | 'anthropic' | 'gemini' | 'bedrock';

/** OpenAI endpoints other than chat: only an upstream that speaks OpenAI can serve them. */
export type OpenAiOnlyEndpoint =
  | '/completions'
  | '/embeddings'
  | '/responses'
  | '/audio/transcriptions'
  | '/images/generations'
  | '/images/edits'
  | '/images/variations';

/**
 * What the client wants done. `chat` is one model turn in any dialect (OpenAI chat completions,
 * Anthropic messages, Gemini generateContent) and the only operation that translates;
 * `count_tokens` counts a chat request's input.
 */
export type Operation = 'chat' | 'count_tokens' | OpenAiOnlyEndpoint;

/** The part of a route a job needs to rewrite its body for one channel. */
export interface RouteTarget {
  readonly upstreamModel: string;
}

/** A body for an upstream that speaks the client's own dialect: JSON, or a multipart form. */
export type NativePayload =
  | {
      readonly json: Record<string, unknown>;
      /**
       * `json` as the client sent it, when it can go upstream byte for byte, or with a member
       * the relay adds in front of the client's own (routes/body.ts).
       */
      readonly text?: string;
    }
  | { readonly form: FormData };

export interface ProxyJob {
  readonly dialect: ClientDialect;
  readonly operation: Operation;
  /** The path the client called, without /v1 (for the usage row and logs). */
  readonly endpoint: string;
  readonly model: string;
  readonly stream: boolean;
  /**
   * The client wants usage in its stream. OpenAI clients ask with stream_options; the relay
   * always asks upstream (billing needs it) and hides the usage chunk from those that did not.
   */
  readonly clientWantsUsage: boolean;
  /**
   * The client's body, rewritten for one route: for an upstream of the client's dialect. A JSON
   * body is at hand (no promise); a form is built asynchronously.
   */
  readonly body: (route: RouteTarget) => NativePayload | Promise<NativePayload>;
  /** The request in neutral form, for an upstream of another dialect (chat only; parsed once, lazily). */
  readonly chat?: () => ChatRequest;
  /** Client headers an upstream of the client's own dialect may see (anthropic-beta…). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Tokens to hold quota for before the call. */
  readonly estimate: { readonly promptTokens: number; readonly completionTokens: number };
  /** Extra billable units known up front (image count). */
  readonly images?: number;
  readonly detail?: Record<string, unknown>;
  /** Rewrites a successful JSON answer before the client sees it (images are stored, URLs replaced). */
  readonly transformJson?: (
    json: unknown,
    route: RouteTarget,
  ) => Promise<{ body: unknown; images?: number }>;
}

/** Turns neutral stream events into one client dialect's SSE frames. One per stream attempt. */
export interface StreamEncoder {
  /** Frames for one event (possibly none, possibly several, already framed). */
  encode(event: ChatEvent): string;
  /** The closing frames once the upstream finished cleanly ([DONE], message_stop…). */
  end(): string;
}

/** What the relay needs to answer a client in its own wire format. */
export interface ClientDialect {
  readonly name: DialectName;
  /** The JSON body of an error response. */
  errorBody(error: RelayError, requestId: string): unknown;
  /** The frame that ends a stream which cannot finish (after it, no closing frame). */
  streamError(error: RelayError, requestId: string): string;
  /** A frame this dialect's clients ignore, sent while a model thinks before its first token. */
  readonly heartbeat: string;
  /** How this dialect's clients send their key, for the error that says none was sent. */
  readonly keyHint: string;
  /** The header this dialect's SDKs read the request id from, besides `x-request-id`. */
  readonly requestIdHeader?: string;
  /** A neutral answer (from an upstream of another dialect) as this dialect's JSON body. */
  renderJson(response: ChatResponse, job: ProxyJob): unknown;
  streamEncoder(job: ProxyJob): StreamEncoder;
}
