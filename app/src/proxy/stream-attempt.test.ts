/**
 * One streamed attempt into a real ClientStream: what the client's body receives, write by
 * write. The upstream body is the chunks an upstream's socket would deliver.
 */
import { describe, expect, it } from 'vitest';
import { Cancel } from '../routing/cancel.ts';
import type { AttemptContext } from '../routing/failover.ts';
import type { UpstreamResponse } from '../routing/upstream-client.ts';
import { OpenAiChatDecoder } from '../providers/openai-compatible/stream.ts';
import { ClientStream } from './client-stream.ts';
import { relayStreamAttempt } from './stream-attempt.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

function upstream(parts: readonly string[]): UpstreamResponse {
  return {
    status: 200,
    headers: new Headers({ 'content-type': 'text/event-stream' }),
    contentType: 'text/event-stream',
    text: () => Promise.resolve(parts.join('')),
    chunks: async function* () {
      for (const part of parts) yield bytes(part);
    },
  };
}

function context(): AttemptContext & { commits: number } {
  const ctx = {
    commits: 0,
    attemptNo: 1,
    channelAttempt: 1,
    signal: new Cancel(),
    probe: false,
    panic: false,
    remainingMs: () => Infinity,
    commit: () => void ctx.commits++,
  };
  return ctx;
}

/** Relays `parts` as the upstream's chunks into a real ClientStream. */
async function run(parts: readonly string[]) {
  const sink = new ClientStream(5_000);
  const ctx = context();
  const result = await relayStreamAttempt({
    res: upstream(parts),
    ctx,
    sink,
    decoder: new OpenAiChatDecoder({ translate: false, clientWantsUsage: false }),
    onCommit: () => {},
  });
  return { result, commits: ctx.commits, writes: await writes(sink) };
}

/** Every write the client's body received, in order. */
async function writes(sink: ClientStream): Promise<string[]> {
  sink.close();
  const out: string[] = [];
  const reader = sink.readable.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read())
    out.push(new TextDecoder().decode(r.value));
  return out;
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const role = chunk({ role: 'assistant' });
const a = chunk({ content: 'a' });
const b = chunk({ content: 'b' });
const c = chunk({ content: 'c' });
const stop = chunk({}, 'stop');
const done = 'data: [DONE]\n\n';

describe('a streamed attempt', () => {
  it('writes the frames of one upstream chunk in one write, the bytes unchanged', async () => {
    const { result, commits, writes } = await run([role, a + b + c, stop + done]);
    expect(result.ok).toBe(true);
    expect(commits).toBe(1);
    // The role frame waits for the first content, then goes out with it.
    expect(writes).toEqual([role + a + b + c, stop + done]);
  });

  it('writes what came before a failure in the same chunk, then reports the failure', async () => {
    const { result, writes } = await run([role + a, b + 'data: {not json\n\n' + c]);
    expect(result).toMatchObject({ ok: false, failure: { kind: 'malformed' } });
    expect(writes).toEqual([role + a, b]);
  });

  it('writes nothing for an upstream that fails before content (it can still fail over)', async () => {
    const { result, commits, writes } = await run([role + 'data: {not json\n\n']);
    expect(result.ok).toBe(false);
    expect(commits).toBe(0);
    expect(writes).toEqual([]);
  });

  it.each([
    [
      'still coming: it is read on after [DONE], so the socket can be reused',
      false,
      ['next', 'next'],
    ],
    ['all in: nothing is read after [DONE], the body is let go at once', true, ['return']],
  ])('a finished answer whose body is %s', async (_name, bodyEnded, after) => {
    const calls: string[] = [];
    const parts = [role + a, stop + done, ': trailing comment\n\n'];
    let at = 0;
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: async () => {
        calls.push('next');
        const part = parts[at++];
        return part === undefined
          ? { done: true, value: undefined }
          : { done: false, value: bytes(part) };
      },
      return: async () => {
        calls.push('return');
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    const sink = new ClientStream(5_000);
    const result = await relayStreamAttempt({
      res: { ...upstream([]), chunks: () => iterator, bodyEnded },
      ctx: context(),
      sink,
      decoder: new OpenAiChatDecoder({ translate: false, clientWantsUsage: false }),
      onCommit: () => {},
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(result.ok).toBe(true);
    expect(await writes(sink)).toEqual([role + a, stop + done]);
    // Two reads for the answer, then what the ending did.
    expect(calls).toEqual(['next', 'next', ...after]);
  });
});
