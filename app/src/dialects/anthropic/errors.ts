/**
 * Errors and heartbeats as Anthropic clients expect them. The SDKs pick their exception class
 * by status and read `error.type`; Claude Code shows `error.message`.
 */
import type { RelayError } from '../../errors.ts';
import { frameEvent } from '../../streaming/sse.ts';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/** DESIGN.md's map; Anthropic's own meaning for the statuses it uses, api_error for other faults. */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
  request_id: string;
}

export function anthropicErrorBody(error: RelayError, requestId: string): AnthropicErrorBody {
  return {
    type: 'error',
    error: { type: anthropicErrorType(error.status), message: error.message },
    request_id: requestId,
  };
}

/** Ends a stream that cannot finish, as Anthropic does: `event: error`, and no message_stop. */
export function anthropicStreamError(error: RelayError, requestId: string): string {
  return frameEvent({ event: 'error', data: JSON.stringify(anthropicErrorBody(error, requestId)) });
}

/** Anthropic's keep-alive, byte for byte as its API sends it; every client skips it. */
export const ANTHROPIC_PING = frameEvent({ event: 'ping', data: '{"type": "ping"}' });
