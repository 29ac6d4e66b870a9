/**
 * The fake Bedrock Runtime speaks Bedrock: the official SDK, pointed at it, converses, streams
 * and invokes as it would against AWS, and a request signed with the wrong secret is refused
 * (the signature really is checked). The end-to-end tests rely on that.
 */
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBedrock } from '../fixtures/aws/bedrock-runtime.ts';
import type { FakeBedrock } from '../fixtures/aws/bedrock-runtime.ts';
import { FAKE_CREDENTIALS } from '../fixtures/aws/server.ts';

const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
let fake: FakeBedrock;
const client = (secretAccessKey = FAKE_CREDENTIALS.secretAccessKey) =>
  new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    credentials: { accessKeyId: FAKE_CREDENTIALS.accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });

beforeAll(async () => {
  fake = await startFakeBedrock();
});
afterAll(() => fake.close());

describe('fake Bedrock Runtime', () => {
  it('answers Converse with the documented body and records the call', async () => {
    const out = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      }),
    );
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage).toMatchObject({ inputTokens: 125, outputTokens: 60 });
    expect(fake.calls.at(-1)).toMatchObject({ op: 'converse', modelId: MODEL });
    expect(fake.refused).toEqual([]);
  });

  it('refuses a request signed with the wrong secret', async () => {
    const err = await client('not-the-secret')
      .send(new ConverseCommand({ modelId: MODEL, messages: [] }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidSignatureException' });
    expect(fake.refused.at(-1)).toBe('signature does not match');
  });

  it('streams ConverseStream events in event-stream frames the SDK decodes', async () => {
    const out = await client().send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      }),
    );
    const names: string[] = [];
    for await (const event of out.stream!) names.push(...Object.keys(event));
    expect(names[0]).toBe('messageStart');
    expect(names.slice(-2)).toEqual(['messageStop', 'metadata']);
  });

  it('streams InvokeModelWithResponseStream chunks and modelled exceptions', async () => {
    fake.reply = () => ({
      frames: [
        { event: 'chunk', body: { bytes: Buffer.from('{"type":"ping"}').toString('base64') } },
        { exception: 'throttlingException', message: 'slow down' },
      ],
    });
    const out = await client().send(
      new InvokeModelWithResponseStreamCommand({
        modelId: MODEL,
        body: '{}',
        contentType: 'application/json',
      }),
    );
    const seen: string[] = [];
    const err = await (async () => {
      for await (const event of out.body!) seen.push(new TextDecoder().decode(event.chunk?.bytes));
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['{"type":"ping"}']);
    expect(err).toMatchObject({ name: 'ThrottlingException', message: 'slow down' });
  });
});
