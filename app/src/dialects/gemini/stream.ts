/**
 * Neutral stream events as a Gemini `streamGenerateContent?alt=sse` stream: every event a whole
 * GenerateContentResponse carrying the parts that are new. Text and thoughts go out as they come;
 * a function call goes out whole once its input is complete (Gemini never splits one). A
 * signature goes out as a thought part of its own, right after the thought it signs, as Gemini
 * streams do: a client that keeps its thoughts sends both back (read as one signed thought, see
 * parts.ts), and one that drops them drops the signature with the text it was made for, rather
 * than send an upstream a signature that no longer matches anything. The last chunk carries
 * finishReason and usageMetadata. One encoder per stream attempt; its state is its own.
 */
import type { BlockStart, ChatEvent, StopReason } from '../../core/chat.ts';
import { parseToolArguments } from '../../core/arguments.ts';
import type { StreamEncoder } from '../../core/job.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { frameData } from '../../streaming/sse.ts';
import { estimateTokens } from '../../usage/extract.ts';
import { geminiFinishReason } from './finish.ts';
import type { Json } from './json.ts';
import { responseId } from './response.ts';
import { geminiUsageMetadata } from './usage.ts';

interface ToolCall {
  readonly id: string;
  readonly name: string;
  json: string;
}

export class GeminiStreamEncoder implements StreamEncoder {
  readonly #model: string;
  readonly #estimatedPrompt: number;
  #id: string | undefined;
  #usage: TokenUsage | undefined;
  #reason: StopReason | null = null;
  readonly #calls = new Map<number, ToolCall>();
  #written = '';

  constructor(model: string, estimatedPrompt: number) {
    this.#model = model;
    this.#estimatedPrompt = estimatedPrompt;
  }

  encode(event: ChatEvent): string {
    switch (event.type) {
      case 'start':
        this.#id ??= event.id;
        if (event.usage) this.#usage = event.usage;
        return '';
      case 'block_start':
        return this.#blockStart(event.index, event.block);
      case 'delta': {
        const d = event.delta;
        if (d.type === 'signature')
          return this.#chunk([{ text: '', thought: true, thoughtSignature: d.signature }]);
        if (d.type === 'tool_input') {
          const call = this.#calls.get(event.index);
          if (call) call.json += d.json;
          return '';
        }
        if (d.text.length === 0) return '';
        this.#written += d.text;
        return this.#chunk([
          d.type === 'thinking' ? { text: d.text, thought: true } : { text: d.text },
        ]);
      }
      case 'block_stop':
        return this.#flushCall(event.index);
      case 'usage':
        this.#usage = event.usage;
        return '';
      case 'stop':
        this.#reason = event.reason;
        return '';
    }
  }

  end(): string {
    let out = '';
    for (const index of [...this.#calls.keys()]) out += this.#flushCall(index);
    const usage = this.#usage ?? {
      promptTokens: this.#estimatedPrompt,
      completionTokens: estimateTokens(this.#written),
    };
    return (
      out +
      this.#frame([{ text: '' }], {
        finishReason: geminiFinishReason(this.#reason),
        usageMetadata: geminiUsageMetadata(usage),
      })
    );
  }

  #blockStart(index: number, block: BlockStart): string {
    // A second start for one index (a decoder's slip) must not lose the first call.
    const out = this.#flushCall(index);
    if (block.type === 'tool_call')
      this.#calls.set(index, { id: block.id, name: block.name, json: '' });
    return out;
  }

  #flushCall(index: number): string {
    const call = this.#calls.get(index);
    if (!call) return '';
    this.#calls.delete(index);
    this.#written += call.json;
    return this.#chunk([
      { functionCall: { id: call.id, name: call.name, args: parseToolArguments(call.json) } },
    ]);
  }

  #chunk(parts: Json[]): string {
    return this.#frame(parts, {});
  }

  #frame(parts: Json[], extra: Json): string {
    const { usageMetadata, ...candidate } = extra;
    return frameData(
      JSON.stringify({
        candidates: [{ content: { parts, role: 'model' }, ...candidate, index: 0 }],
        ...(usageMetadata !== undefined && { usageMetadata }),
        modelVersion: this.#model,
        responseId: (this.#id = responseId(this.#id)),
      }),
    );
  }
}
