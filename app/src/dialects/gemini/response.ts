/** A neutral answer (from an upstream of another dialect) as a GenerateContentResponse. */
import { randomUUID } from 'node:crypto';
import type { ChatResponse } from '../../core/chat.ts';
import { geminiFinishReason } from './finish.ts';
import { writeParts } from './parts.ts';
import { geminiUsageMetadata } from './usage.ts';

const NO_NAMES: ReadonlyMap<string, string> = new Map();

export const responseId = (id: string | undefined): string =>
  id || randomUUID().replace(/-/g, '').slice(0, 22);

export function renderGenerateContent(response: ChatResponse, clientModel: string) {
  const parts = writeParts(response.content, {
    names: NO_NAMES,
    withIds: true,
    signatureAfterThought: true,
  });
  return {
    candidates: [
      {
        content: { parts, role: 'model' },
        finishReason: geminiFinishReason(response.stopReason),
        index: 0,
      },
    ],
    usageMetadata: geminiUsageMetadata(response.usage ?? { promptTokens: 0, completionTokens: 0 }),
    modelVersion: clientModel,
    responseId: responseId(response.id),
  };
}
