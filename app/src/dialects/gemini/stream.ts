/**
 * Neutral stream events as a Gemini `streamGenerateContent?alt=sse` stream: every event a whole
 * GenerateContentResponse carrying the parts that are new. Text and thoughts go out as they come;
 * a function call goes out whole once its input is complete (Gemini never splits one). A
 * signature goes out on the next part that is not a thought (the function call, mostly), as
 * Gemini writes it and as the JSON answer has it (parts.ts): Gemini CLI drops thought parts from
 * the history it sends back, and a signature on one of its own would be lost with them, so a tool
 * loop through Claude could not keep thinking. A signature with no part after it goes on the last
 * chunk's empty text. The last chunk carries finishReason and usageMetadata. One encoder per
 * stream attempt; its state is its own.
 */
import type { BlockStart, ChatEvent, StopReason } from '../../core/chat.ts';
import { parseToolArguments } from '../../core/arguments.ts';
import type { StreamEncoder } from '../../core/job.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { frameData } from '../../streaming/sse.ts';
import { estimateTokens } from '../../usage/extract.ts';
import { geminiFinishReason } from './finish.ts';
import type { Json } from '../../core/json.ts';
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
  /** A signature waiting for the next part that is not a thought. */
  #signature = '';

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
        if (d.type === 'signature') {
          // Two with no part between them: the first goes out on an empty text of its own.
          const out = this.#signature ? this.#chunk([this.#signed({ text: '' })]) : '';
          this.#signature = d.signature;
          return out;
        }
        if (d.type === 'tool_input') {
          const call = this.#calls.get(event.index);
          if (call) call.json += d.json;
          return '';
        }
        if (d.text.length === 0) return '';
        this.#written += d.text;
        return this.#chunk([
          d.type === 'thinking' ? { text: d.text, thought: true } : this.#signed({ text: d.text }),
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
      this.#frame([this.#signed({ text: '' })], {
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
      this.#signed({
        functionCall: { id: call.id, name: call.name, args: parseToolArguments(call.json) },
      }),
    ]);
  }

  #signed(part: Json): Json {
    if (!this.#signature) return part;
    const signed = { ...part, thoughtSignature: this.#signature };
    this.#signature = '';
    return signed;
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
