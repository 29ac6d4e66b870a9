/** The Anthropic Messages client dialect: how the relay answers `/v1/messages` callers. */
import type { ClientDialect } from '../../core/job.ts';
import { ANTHROPIC_PING, anthropicErrorBody, anthropicStreamError } from './errors.ts';
import { renderMessage } from './response.ts';
import { AnthropicStreamEncoder } from './stream.ts';

export const anthropicDialect: ClientDialect = {
  name: 'anthropic',
  errorBody: anthropicErrorBody,
  streamError: anthropicStreamError,
  heartbeat: ANTHROPIC_PING,
  keyHint: "'x-api-key: YOUR_KEY'",
  // The Anthropic SDKs read it into error.requestID and message._request_id.
  requestIdHeader: 'request-id',
  renderJson: (response, job) => renderMessage(response, job.model),
  streamEncoder: (job) => new AnthropicStreamEncoder(job.model, job.estimate.promptTokens),
};

export {
  countTokensRequestSchema,
  messagesRequestSchema,
  parseCountTokensRequest,
  parseMessagesRequest,
  readChatRequest,
  toChatRequest,
} from './request.ts';
export type { ChatTranslation, CountTokensRequest, MessagesRequest } from './request.ts';
