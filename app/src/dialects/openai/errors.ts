import type { RelayError } from '../../errors.ts';
import { frameData } from '../../streaming/sse.ts';

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
  request_id: string;
}

/** The contract's error body: OpenAI's shape, plus the request id clients quote to operators. */
export function openAiErrorBody(err: RelayError, requestId: string): OpenAiErrorBody {
  return {
    error: { message: err.message, type: err.type, code: err.code, param: err.param },
    request_id: requestId,
  };
}

/** Ends a stream that cannot finish: the error object as an event, and no [DONE]. */
export function openAiStreamError(err: RelayError, requestId: string): string {
  return frameData(JSON.stringify(openAiErrorBody(err, requestId)));
}
