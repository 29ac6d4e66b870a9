import type { ChatEvent, StopReason } from '../../core/chat.ts';
import type { StreamEncoder } from '../../core/job.ts';
import { DONE_DATA, frameData } from '../../streaming/sse.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { finishReason, openAiUsage } from './chat-response.ts';

export interface ChatChunkOptions {
  /** The model name the client asked for. */
  readonly model: string;
  /** Unix seconds, the same on every chunk as OpenAI sends it. */
  readonly created: number;
  /** The client asked for the usage chunk (stream_options.include_usage). */
  readonly includeUsage: boolean;
}

/**
 * Neutral events as chat.completion.chunk frames: text as `content`, thinking as
 * `reasoning_content`, each tool call under its own `tool_calls` index (name first, then its
 * arguments in pieces), the finish reason, the usage chunk if asked, then [DONE].
 * One per stream: the tool numbering is this stream's own.
 */
export class OpenAiChatEncoder implements StreamEncoder {
  readonly #opts: ChatChunkOptions;
  #id = `chatcmpl-${Date.now().toString(36)}`;
  /** Neutral block index → this stream's tool_calls index. */
  readonly #tools = new Map<number, number>();
  #usage: TokenUsage | undefined;
  /** Thinking of this answer, for `thinking_blocks`: the open block's text, then each whole one. */
  #thinking = '';
  #signature = '';
  readonly #thinkingBlocks: Record<string, unknown>[] = [];
  #thinkingOpen = false;
  #stop: StopReason | null | undefined;
  #stopped = false;

  constructor(opts: ChatChunkOptions) {
    this.#opts = opts;
  }

  #chunk(delta: Record<string, unknown>, finish: string | null = null): string {
    return frameData(
      JSON.stringify({
        id: this.#id,
        object: 'chat.completion.chunk',
        created: this.#opts.created,
        model: this.#opts.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      }),
    );
  }

  encode(event: ChatEvent): string {
    switch (event.type) {
      case 'start':
        if (event.id) this.#id = event.id;
        if (event.usage) this.#usage = event.usage;
        return this.#chunk({ role: 'assistant', content: '' });
      case 'block_start': {
        if (event.block.type === 'thinking') {
          this.#thinkingOpen = true;
          this.#thinking = '';
          this.#signature = '';
          return '';
        }
        if (event.block.type === 'redacted_thinking') {
          this.#thinkingBlocks.push({ type: 'redacted_thinking', data: event.block.data });
          return this.#chunk({ thinking_blocks: [...this.#thinkingBlocks] });
        }
        if (event.block.type !== 'tool_call') return '';
        const index = this.#tools.size;
        this.#tools.set(event.index, index);
        return this.#chunk({
          tool_calls: [
            {
              index,
              id: event.block.id,
              type: 'function',
              function: { name: event.block.name, arguments: '' },
            },
          ],
        });
      }
      case 'delta': {
        const d = event.delta;
        if (d.type === 'text') return d.text ? this.#chunk({ content: d.text }) : '';
        if (d.type === 'thinking') {
          this.#thinking += d.text;
          return d.text ? this.#chunk({ reasoning_content: d.text }) : '';
        }
        if (d.type === 'signature') {
          this.#signature += d.signature;
          return '';
        }
        if (d.type === 'tool_input') {
          const index = this.#tools.get(event.index);
          if (index === undefined || d.json === '') return '';
          return this.#chunk({ tool_calls: [{ index, function: { arguments: d.json } }] });
        }
        return '';
      }
      case 'usage':
        this.#usage = event.usage;
        return '';
      case 'stop':
        this.#stop = event.reason;
        this.#stopped = true;
        return this.#chunk({}, finishReason(event.reason, this.#tools.size > 0) ?? 'stop');
      case 'block_stop':
        return this.#endThinking();
    }
  }

  /**
   * A signed thinking block, whole, as `thinking_blocks` (LiteLLM's field; the openai SDK keeps it
   * on the message): a client that sends it back keeps a Claude tool loop with thinking valid.
   * Each time the list so far, since accumulators keep the last value of an unknown field.
   */
  #endThinking(): string {
    if (!this.#thinkingOpen) return '';
    this.#thinkingOpen = false;
    if (!this.#signature) return '';
    this.#thinkingBlocks.push({
      type: 'thinking',
      thinking: this.#thinking,
      signature: this.#signature,
    });
    return this.#chunk({ thinking_blocks: [...this.#thinkingBlocks] });
  }

  end(): string {
    let out = this.#stopped
      ? ''
      : this.#chunk({}, finishReason(this.#stop, this.#tools.size > 0) ?? 'stop');
    if (this.#opts.includeUsage && this.#usage) {
      out += frameData(
        JSON.stringify({
          id: this.#id,
          object: 'chat.completion.chunk',
          created: this.#opts.created,
          model: this.#opts.model,
          choices: [],
          usage: openAiUsage(this.#usage),
        }),
      );
    }
    return out + frameData(DONE_DATA);
  }
}
