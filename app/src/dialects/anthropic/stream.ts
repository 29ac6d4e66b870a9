/**
 * Neutral stream events as an Anthropic Messages stream. The sequence it writes is the one the
 * SDKs accumulate: message_start, then blocks with indexes 0, 1, 2… each started, filled and
 * stopped, then message_delta and message_stop. One encoder per stream attempt, state in the
 * instance only, so concurrent streams never share a block or a count.
 *
 * Text and thinking blocks open on their first real delta, not on the upstream's say-so: an
 * upstream that announces a text block and then thinks (or says nothing) would otherwise leave
 * an empty text block in the client's message. Tool and redacted-thinking blocks open at once.
 * When another block starts, an open text or thinking block is finished (Anthropic's streams
 * never interleave blocks); more text for it later opens a new block.
 */
import type { BlockDelta, BlockStart, ChatEvent, StopReason } from '../../core/chat.ts';
import type { StreamEncoder } from '../../core/job.ts';
import { frameEvent } from '../../streaming/sse.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { estimateTokens } from '../../usage/extract.ts';
import { anthropicBlock, anthropicStopReason, messageId } from './response.ts';
import { anthropicUsage } from './usage.ts';

const frame = (type: string, data: Record<string, unknown>): string =>
  frameEvent({ event: type, data: JSON.stringify({ type, ...data }) });

/** A block the upstream started, and the block this encoder wrote for it (if any yet). */
interface Block {
  readonly start: BlockStart;
  /** This stream's index, once written. */
  out?: number;
  open: boolean;
}

export class AnthropicStreamEncoder implements StreamEncoder {
  readonly #model: string;
  readonly #estimatedPrompt: number;
  #started = false;
  #id: string | undefined;
  #usage: TokenUsage | undefined;
  #reason: StopReason | null = null;
  #stopSequence: string | null = null;
  /** The upstream's block index → its block. */
  readonly #blocks = new Map<number, Block>();
  #next = 0;
  #calledTools = false;
  /** What the model wrote, for an output estimate when the upstream reports no usage. */
  #written = '';

  /** `model`: the name the client asked for; `estimatedPrompt`: the job's prompt estimate. */
  constructor(model: string, estimatedPrompt: number) {
    this.#model = model;
    this.#estimatedPrompt = estimatedPrompt;
  }

  encode(event: ChatEvent): string {
    switch (event.type) {
      case 'start':
        if (event.usage) this.#usage = event.usage;
        this.#id ??= event.id;
        return this.#messageStart();
      case 'block_start':
        return this.#messageStart() + this.#blockStart(event.index, event.block);
      case 'delta':
        return this.#messageStart() + this.#delta(event.index, event.delta);
      case 'block_stop':
        return this.#blockStop(this.#blocks.get(event.index));
      case 'usage':
        this.#usage = event.usage;
        return '';
      case 'stop':
        this.#reason = event.reason;
        this.#stopSequence = event.stopSequence ?? null;
        return '';
    }
  }

  end(): string {
    let out = this.#messageStart();
    for (const block of this.#blocks.values()) out += this.#blockStop(block);
    const usage = this.#finalUsage();
    out += frame('message_delta', {
      delta: {
        stop_reason: anthropicStopReason(this.#reason, this.#calledTools),
        stop_sequence: this.#stopSequence,
      },
      usage: anthropicUsage(usage),
    });
    return out + frame('message_stop', {});
  }

  /** message_start once, with real input counts: the upstream's, or the relay's estimate. */
  #messageStart(): string {
    if (this.#started) return '';
    this.#started = true;
    const usage = this.#usage ?? { promptTokens: this.#estimatedPrompt, completionTokens: 0 };
    return frame('message_start', {
      message: {
        id: messageId(this.#id),
        type: 'message',
        role: 'assistant',
        model: this.#model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: anthropicUsage(usage),
      },
    });
  }

  #finalUsage(): TokenUsage {
    if (this.#usage) return this.#usage;
    return { promptTokens: this.#estimatedPrompt, completionTokens: estimateTokens(this.#written) };
  }

  #blockStart(index: number, start: BlockStart): string {
    // Whatever is open for another upstream block ends here, unless it is a tool call
    // (its input may still be arriving, and a tool call cannot be split in two).
    // A second start for the same upstream index (a decoder's slip) ends the first block.
    let out = this.#closeTextAndThinking() + this.#blockStop(this.#blocks.get(index));
    const block: Block = { start, open: false };
    this.#blocks.set(index, block);
    if (start.type === 'tool_call' || start.type === 'redacted_thinking') out += this.#open(block);
    return out;
  }

  #delta(index: number, delta: BlockDelta): string {
    let block = this.#blocks.get(index);
    if (delta.type === 'tool_input') {
      // Input for a tool call never started has no id or name to go with: nothing to write.
      if (block?.start.type !== 'tool_call' || !block.open) return '';
      this.#written += delta.json;
      return this.#frameDelta(block, { type: 'input_json_delta', partial_json: delta.json });
    }
    const kind = delta.type === 'text' ? 'text' : 'thinking';
    if (delta.type !== 'signature' && delta.text.length === 0) return '';
    let out = '';
    if (!block || block.start.type !== kind || (block.out !== undefined && !block.open)) {
      // A delta for a block never started (or already finished) opens a new one of its kind.
      out += this.#blockStop(block);
      block = { start: { type: kind }, open: false };
      this.#blocks.set(index, block);
    }
    if (!block.open) out += this.#closeTextAndThinking() + this.#open(block);
    if (delta.type === 'signature') {
      return out + this.#frameDelta(block, { type: 'signature_delta', signature: delta.signature });
    }
    this.#written += delta.text;
    return (
      out +
      this.#frameDelta(
        block,
        delta.type === 'text'
          ? { type: 'text_delta', text: delta.text }
          : { type: 'thinking_delta', thinking: delta.text },
      )
    );
  }

  #open(block: Block): string {
    block.out = this.#next++;
    block.open = true;
    const start = block.start;
    if (start.type === 'tool_call') this.#calledTools = true;
    const content =
      start.type === 'tool_call'
        ? { type: 'tool_use', id: start.id, name: start.name, input: {} }
        : start.type === 'text'
          ? { type: 'text', text: '' }
          : start.type === 'thinking'
            ? { type: 'thinking', thinking: '', signature: '' }
            : anthropicBlock({ type: 'redacted_thinking', data: start.data });
    return frame('content_block_start', { index: block.out, content_block: content });
  }

  #frameDelta(block: Block, delta: Record<string, unknown>): string {
    return frame('content_block_delta', { index: block.out, delta });
  }

  /** A stop only for a block this stream opened, and only once. */
  #blockStop(block: Block | undefined): string {
    if (!block?.open) return '';
    block.open = false;
    return frame('content_block_stop', { index: block.out });
  }

  #closeTextAndThinking(): string {
    let out = '';
    for (const block of this.#blocks.values()) {
      if (block.start.type === 'text' || block.start.type === 'thinking')
        out += this.#blockStop(block);
    }
    return out;
  }
}
