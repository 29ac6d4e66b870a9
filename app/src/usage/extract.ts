import type { TokenUsage } from '../core/usage.ts';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;

/**
 * Reads the usage object of any OpenAI-style response: chat/completions/embeddings
 * (`prompt_tokens`), responses and transcriptions (`input_tokens`), duration-billed audio
 * (`seconds`). An explicit 0 is a real 0; only a missing object is "not reported".
 * DeepSeek reports cache hits as `prompt_cache_hit_tokens`.
 */
export function readUsage(usage: unknown): TokenUsage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens);
  const completion = num(u.completion_tokens) ?? num(u.output_tokens);
  const seconds = num(u.seconds);
  if (prompt === undefined && completion === undefined && seconds === undefined) return undefined;
  const inDetails = (u.prompt_tokens_details ?? u.input_tokens_details) as
    Record<string, unknown> | undefined;
  const outDetails = (u.completion_tokens_details ?? u.output_tokens_details) as
    Record<string, unknown> | undefined;
  const cached = num(inDetails?.cached_tokens) ?? num(u.prompt_cache_hit_tokens);
  const reasoning = num(outDetails?.reasoning_tokens);
  return {
    promptTokens: prompt ?? 0,
    completionTokens: completion ?? 0,
    ...(cached !== undefined && { cacheReadTokens: cached }),
    ...(reasoning !== undefined && { reasoningTokens: reasoning }),
    ...(seconds !== undefined && { audioSeconds: seconds }),
  };
}

/** Usage carried by a JSON response body or one stream event (`response.completed` nests it). */
export function usageFromPayload(payload: unknown): TokenUsage | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const direct = readUsage(p.usage);
  if (direct) return direct;
  const nested = p.response as Record<string, unknown> | undefined;
  return nested ? readUsage(nested.usage) : undefined;
}

/** Inline media (base64 of at least 1 KiB): an image costs a model about this many tokens, whatever its size. */
const MEDIA_RUN = 1024;
const TOKENS_PER_MEDIA = 1_600;

/** 1 for a base64 character (A-Z, a-z, 0-9, + and /), by char code below 128. */
const BASE64 = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  BASE64[c.charCodeAt(0)] = 1;
}

const isBase64 = (c: number): boolean => c < 128 && BASE64[c] === 1;

/**
 * A request body's prompt tokens, roughly: its text as estimateTokens counts it, with each inline
 * image or file counted as one image (the model sees pixels, not base64), so a screenshot does
 * not hold dollars of quota or count as half a million tokens. An inline file is a run of at
 * least 1 KiB of base64 characters (with up to two `=` of padding), and such a run covers every
 * 1,024th character, so the loop below looks at one character in 1,024 and only walks the runs
 * it lands in (in prose, a word). The regex it replaces (/[A-Za-z0-9+/]{1024,}={0,2}/g) read
 * every character and took ~0.8 ms for a 47 KB conversation.
 */
export function estimatePromptTokens(body: string): number {
  let media = 0;
  let removed = 0;
  // Every run that starts after `last` (a character that is not base64) is still to be found.
  let last = -1;
  while (last + MEDIA_RUN < body.length) {
    const probe = last + MEDIA_RUN;
    if (!isBase64(body.charCodeAt(probe))) {
      last = probe;
      continue;
    }
    let start = probe;
    while (start - 1 > last && isBase64(body.charCodeAt(start - 1))) start--;
    let stop = probe + 1;
    while (stop < body.length && isBase64(body.charCodeAt(stop))) stop++;
    // `stop` is past the run: the end of the body, or a character that is not base64.
    last = stop;
    if (stop - start >= MEDIA_RUN) {
      media++;
      // The padding goes with it (base64 characters are one UTF-8 byte each, and so is `=`);
      // the next run may start right after it.
      let pad = 0;
      while (pad < 2 && body.charCodeAt(stop + pad) === 61) pad++;
      removed += stop - start + pad;
      if (pad > 0) last = stop + pad - 1;
    }
  }
  if (media === 0) return estimateTokens(body);
  const bytes = Buffer.byteLength(body, 'utf8') - removed;
  return (bytes === 0 ? 0 : Math.ceil(bytes / 3)) + media * TOKENS_PER_MEDIA;
}

/** A rough count for when the upstream reports nothing: ~3 UTF-8 bytes a token covers CJK and Latin alike. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}
