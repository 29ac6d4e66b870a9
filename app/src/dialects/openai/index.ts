import type { ClientDialect } from '../../core/job.ts';
import { KEEP_ALIVE_COMMENT } from '../../streaming/heartbeat.ts';
import { renderChatCompletion } from './chat-response.ts';
import { OpenAiChatEncoder } from './chat-stream.ts';
import { openAiErrorBody, openAiStreamError } from './errors.ts';

const unixNow = () => Math.floor(Date.now() / 1000);

/** OpenAI's wire format: the relay's first dialect, and every endpoint other than chat. */
export const openAiDialect: ClientDialect = {
  name: 'openai',
  errorBody: openAiErrorBody,
  streamError: openAiStreamError,
  heartbeat: KEEP_ALIVE_COMMENT,
  keyHint: "'Authorization: Bearer YOUR_KEY'",
  renderJson: (response, job) => renderChatCompletion(response, job.model, unixNow()),
  streamEncoder: (job) =>
    new OpenAiChatEncoder({
      model: job.model,
      created: unixNow(),
      includeUsage: job.clientWantsUsage,
    }),
};
