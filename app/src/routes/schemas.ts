import { z } from 'zod';

/**
 * Only what the relay itself relies on is checked; every other field passes through untouched,
 * so new upstream parameters work without a relay release.
 */
const base = {
  model: z.string().min(1).max(256),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().nonnegative().nullish(),
  max_completion_tokens: z.number().int().nonnegative().nullish(),
  max_output_tokens: z.number().int().nonnegative().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  best_of: z.number().int().min(1).max(128).nullish(),
};

const contentPart = z.looseObject({ type: z.string() });
const message = z.looseObject({
  role: z.string().min(1),
  // null with tool_calls on assistant messages, string, or an array of parts
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
});

export const chatSchema = z.looseObject({ ...base, messages: z.array(message).min(1) });
export const completionSchema = z.looseObject({ ...base, prompt: z.unknown() });
export const embeddingSchema = z.looseObject({
  model: base.model,
  input: z.unknown().refine((v) => v !== undefined && v !== null, 'input is required'),
});
export const responsesSchema = z.looseObject({ ...base, input: z.unknown().optional() });

export type ChatBody = z.infer<typeof chatSchema>;
