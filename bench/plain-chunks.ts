/**
 * `node bench/plain-chunks.ts`: what reading a stream's text deltas costs, in ns a chunk, with
 * the full check alone (`plainChunkText`, a regex pass over every key) and with the shape of the
 * stream's last plain chunk (`PlainChunkReader`), for OpenAI's chunks with and without their
 * `obfuscation` padding. Each chunk is a slice of one text, as the SSE parser hands them over.
 * A timing on this machine, not a test: read it against the other column of the same run.
 * Env: CHUNK_STREAMS (default 20,000 streams of 20 chunks a round), CHUNK_ROUNDS (default 3).
 */
import {
  PlainChunkReader,
  plainChunkText,
} from '../app/src/providers/openai-compatible/plain-chunk.ts';
import { envInt } from './env.ts';

const STREAMS = envInt('CHUNK_STREAMS', 20_000);
const ROUNDS = envInt('CHUNK_ROUNDS', 3);
const CHUNKS = 20;

function stream(padded: boolean): string[] {
  const chunk = (i: number) => {
    const content = `tok${i} `;
    return JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
      usage: null,
      // OpenAI pads each chunk to hide its text's length: a new length every time.
      ...(padded && { obfuscation: 'x'.repeat(1 + ((i * 7) % 13)) }),
    });
  };
  const text = Array.from({ length: CHUNKS }, (_, i) => `data: ${chunk(i)}`).join('\n\n');
  return text.split('\n\n').map((line) => line.slice('data: '.length));
}

function nsPerChunk(datas: readonly string[], read: () => (data: string) => unknown): number {
  const started = process.hrtime.bigint();
  for (let s = 0; s < STREAMS; s++) {
    const one = read();
    for (const data of datas) if (one(data) === undefined) throw new Error(`not plain: ${data}`);
  }
  return Number(process.hrtime.bigint() - started) / (STREAMS * datas.length);
}

for (const padded of [false, true]) {
  const datas = stream(padded);
  for (let round = 1; round <= ROUNDS; round++) {
    const full = nsPerChunk(datas, () => plainChunkText);
    const shaped = nsPerChunk(datas, () => {
      const reader = new PlainChunkReader();
      return (data) => reader.read(data);
    });
    process.stdout.write(
      `${padded ? 'padded  ' : 'unpadded'} round ${round}: plainChunkText ${full.toFixed(0)} ns, ` +
        `PlainChunkReader ${shaped.toFixed(0)} ns a chunk\n`,
    );
  }
}
