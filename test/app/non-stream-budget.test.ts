/**
 * A non-streaming request behind a CDN: CloudFront gives up on a silent origin after its read
 * timeout (60 s by default) and answers 504 itself, while the relay would go on waiting and then
 * bill an answer nobody receives. `server.nonStreamBudgetMs` (the CDK app sets it below the read
 * timeout) ends such a request first, with a 504 that tells the client what to do instead.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startFaultUpstream } from '../fixtures/fault-upstream.ts';
import type { FaultUpstream } from '../fixtures/fault-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const CLIENT_KEY = 'sk-budget-client-0123456789abcdef';
const SLOW_ANSWER_MS = 1500;

let running: { relay: TestRelay; upstream: FaultUpstream } | undefined;
afterEach(async () => {
  await running?.relay.close();
  await running?.upstream.close();
  running = undefined;
});

async function relayWithSlowUpstream(server: Record<string, unknown>) {
  const upstream = await startFaultUpstream();
  upstream.setDefault({ kind: 'ok', headersDelayMs: SLOW_ANSWER_MS });
  const relay = await startTestRelay(
    {
      server: { heartbeatMs: 200, ...server },
      channels: [
        {
          name: 'slow',
          baseUrl: upstream.baseUrl,
          apiKey: 'env:SLOW_KEY',
          models: ['m'],
          timeouts: { connectMs: 1000, firstByteMs: 10_000, idleMs: 10_000 },
        },
      ],
      keys: [{ name: 'budget', key: CLIENT_KEY, quota: 10 }],
      prices: { m: { input: 1, output: 1 } },
    },
    { SLOW_KEY: 'sk-provider-slow' },
  );
  running = { relay, upstream };
  const client = relay.client(CLIENT_KEY);
  const ask = (stream: boolean) =>
    client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream,
    } as never) as unknown as Promise<OpenAI.ChatCompletion | AsyncIterable<unknown>>;
  return { relay, upstream, ask };
}

describe('non-streaming time budget (server.nonStreamBudgetMs)', () => {
  it('ends a slow non-streaming request in time with a 504 that suggests stream: true, unbilled', async () => {
    const { relay, upstream, ask } = await relayWithSlowUpstream({ nonStreamBudgetMs: 400 });
    const started = performance.now();
    const error = (await ask(false).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    const took = performance.now() - started;

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(504);
    expect(error.code).toBe('non_stream_timeout');
    expect(error.message).toContain('"stream": true');
    expect(error.message).toContain('0.4 s');
    // Well before the upstream would have answered: the CDN never sees a silent origin.
    expect(took).toBeLessThan(SLOW_ANSWER_MS - 300);
    // The relay let go of the upstream call instead of finishing (and paying for) it.
    await upstream.requests[0]!.closed;

    const store = relay.store();
    const row = await eventually(() => {
      const r = store.listUsage({ limit: 1 })[0];
      if (!r) throw new Error('no usage row yet');
      return r;
    });
    expect(row).toMatchObject({ status: 504, errorCode: 'non_stream_timeout', costMicros: 0 });
    expect(store.getKey('budget')).toMatchObject({ usedMicros: 0, reservedMicros: 0 });
  });

  it('leaves streams alone: heartbeats keep the CDN waiting, so the same wait succeeds', async () => {
    const { ask } = await relayWithSlowUpstream({ nonStreamBudgetMs: 400 });
    let content = '';
    for await (const chunk of (await ask(true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(content).toBe('Hello from the fault upstream.');
  });

  it('is off unless configured: the same slow non-streaming request is answered', async () => {
    const { ask } = await relayWithSlowUpstream({});
    const answer = (await ask(false)) as OpenAI.ChatCompletion;
    expect(answer.choices[0]!.message.content).toBe('Hello from the fault upstream.');
  });
});
