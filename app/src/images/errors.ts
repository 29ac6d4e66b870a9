/**
 * The one error type the images module throws. `status` and `code` follow the relay's
 * OpenAI-style error contract, so the app's error handler can map it 1:1 onto RelayError.
 */
export type ImageErrorCode =
  | 'upstream_image_unavailable'
  | 'upstream_image_too_large'
  | 'upstream_invalid_response'
  | 'unsupported_image_type'
  | 'image_store_failed'
  | 'image_not_found';

export class ImageError extends Error {
  override readonly name = 'ImageError';
  readonly status: 400 | 404 | 500 | 502 | 503 | 504;
  readonly code: ImageErrorCode;
  /** OpenAI error `type` for the client body. */
  readonly type: 'invalid_request_error' | 'upstream_error' | 'server_error';

  constructor(
    status: ImageError['status'],
    code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.type =
      status === 404 || status === 400
        ? 'invalid_request_error'
        : status === 502 || status === 504
          ? 'upstream_error'
          : 'server_error';
  }
}

export const isImageError = (err: unknown): err is ImageError => err instanceof ImageError;
