/**
 * Errors as Google's APIs write them — `{"error":{"code":404,"message":"…","status":"NOT_FOUND"}}`
 * — which @google/genai turns into its ApiError and Gemini CLI shows. The request id travels as
 * a google.rpc.RequestInfo detail, the place Google's own errors keep it.
 */
import type { RelayError } from '../../errors.ts';
import { frameData } from '../../streaming/sse.ts';

/** The google.rpc.Code name Google's APIs pair with each HTTP status. */
export function googleStatus(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 402:
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 502:
    case 503:
    case 529:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
  }
}

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    status: string;
    details: { '@type': string; requestId: string }[];
  };
}

export function googleErrorBody(error: RelayError, requestId: string): GoogleErrorBody {
  return {
    error: {
      code: error.status,
      message: error.message,
      status: googleStatus(error.status),
      details: [{ '@type': 'type.googleapis.com/google.rpc.RequestInfo', requestId }],
    },
  };
}

/** A stream that cannot finish ends with the error object as its last event, as Gemini's do. */
export function googleStreamError(error: RelayError, requestId: string): string {
  return frameData(JSON.stringify(googleErrorBody(error, requestId)));
}
