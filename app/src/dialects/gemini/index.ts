/** The Gemini client dialect: how the relay answers `/v1beta/models/…` callers. */
import type { ClientDialect } from '../../core/job.ts';
import { KEEP_ALIVE_COMMENT } from '../../streaming/heartbeat.ts';
import { googleErrorBody, googleStreamError } from './errors.ts';
import { renderGenerateContent } from './response.ts';
import { GeminiStreamEncoder } from './stream.ts';

export const geminiDialect: ClientDialect = {
  name: 'gemini',
  errorBody: googleErrorBody,
  streamError: googleStreamError,
  // @google/genai reads only `data:` events: an SSE comment passes unnoticed.
  heartbeat: KEEP_ALIVE_COMMENT,
  keyHint: "'x-goog-api-key: YOUR_KEY' (or ?key=YOUR_KEY)",
  renderJson: (response, job) => renderGenerateContent(response, job.model),
  streamEncoder: (job) => new GeminiStreamEncoder(job.model, job.estimate.promptTokens),
};

export { parseCountTokens, parseGenerateContent, readChatRequest } from './request.ts';
export type { CountTokensRequest, GenerateContentRequest } from './request.ts';
