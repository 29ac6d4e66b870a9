import { UpstreamError } from '../../core/failure.ts';

/** A request Bedrock cannot take as asked: the client's 400, before anything is sent. */
export function badRequest(message: string): UpstreamError {
  return new UpstreamError({
    kind: 'http-status',
    status: 400,
    message: `bedrock: ${message}`,
    error: { message, type: 'invalid_request_error', code: 'invalid_request_error', param: null },
  });
}
