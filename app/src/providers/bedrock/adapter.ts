/**
 * Channel type `bedrock`: Amazon Bedrock Runtime in `region` (or at `endpoint`), signed with
 * the default AWS credential chain — on the host, its instance role; no provider key.
 * - Messages clients asking for Claude: InvokeModel(WithResponseStream) with their own body,
 *   near pass-through (invoke.ts), answers and stream events read as Anthropic's.
 * - Everyone else (OpenAI clients, Messages clients asking for Llama, Nova, Mistral…): the
 *   neutral chat as Converse(Stream) (converse-*.ts).
 * The SDK sends (transport.ts); the rest is ordinary adapter work.
 */
import type { DialectName, Operation } from '../../core/job.ts';
import { anthropicAdapter } from '../anthropic/adapter.ts';
import { isObject } from '../../core/json.ts';
import type { BuildRequestInput, ProviderAdapter, UpstreamRequest } from '../types.ts';
import { joinUrl } from '../types.ts';
import { toConverseRequest } from './converse-request.ts';
import { fromConverse, readConverseUsage } from './converse-response.ts';
import { ConverseStreamDecoder } from './converse-stream.ts';
import { classifyBedrockFailure } from './errors.ts';
import { toInvokeBody } from './invoke.ts';
import { isClaudeOnBedrock } from './models.ts';
import { bedrockPath, sendBedrock } from './transport.ts';

function converse(input: BuildRequestInput): UpstreamRequest {
  if (!input.chat || input.operation !== 'chat')
    throw new Error('bedrock adapter: only chat reaches Converse');
  const { modelId, body, dropped } = toConverseRequest(input.chat, input.defaultMaxTokens);
  if (dropped.length > 0) input.dropped?.(dropped);
  const op = input.stream ? 'converse-stream' : 'converse';
  return request(input, bedrockPath(modelId, op), body);
}

function invoke(input: BuildRequestInput, json: Record<string, unknown>): UpstreamRequest {
  const modelId = typeof json.model === 'string' ? json.model : '';
  const op = input.stream ? 'invoke-with-response-stream' : 'invoke';
  const body = toInvokeBody(json, input.headers['anthropic-beta']);
  return request(input, bedrockPath(modelId, op), body);
}

const request = (
  input: BuildRequestInput,
  path: string,
  body: Record<string, unknown>,
): UpstreamRequest => ({
  url: joinUrl(input.channel.baseUrl, path),
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export const bedrockAdapter: ProviderAdapter = {
  type: 'bedrock',
  dialect: 'bedrock',

  modelDialect(upstreamModel: string): DialectName {
    return isClaudeOnBedrock(upstreamModel) ? 'anthropic' : 'bedrock';
  },

  serves(operation: Operation): boolean {
    return operation === 'chat';
  },

  buildRequest(input) {
    return input.json ? invoke(input, input.json) : converse(input);
  },

  transport: sendBedrock,

  classifyError: classifyBedrockFailure,

  decodeJson(json, job, translate) {
    // Pass-through is InvokeModel with a Messages body: its answer is a Messages answer.
    if (!translate || !isObject(json) || json.type === 'message')
      return anthropicAdapter.decodeJson(json, job, translate);
    const usage = readConverseUsage(json.usage);
    const response = fromConverse(json, job.chat?.().model ?? job.model);
    if (!response)
      return {
        failure: { kind: 'malformed', message: 'bedrock answered 2xx with no Converse message' },
      };
    return { response, ...(usage && { usage }) };
  },

  streamDecoder(job, translate) {
    return translate
      ? new ConverseStreamDecoder(job.model)
      : anthropicAdapter.streamDecoder(job, false);
  },

  buildListModels() {
    // Model lists are Bedrock's control plane (another API and permission): name models instead.
    throw new Error('bedrock channels list their models in the config');
  },

  parseModelList() {
    return [];
  },
};
