/**
 * The Bedrock SDK is loaded on the first Bedrock request, never at start: a relay without
 * bedrock channels pays nothing for it (start-up time, memory). No other AWS SDK is loaded at
 * start either (S3's, for the image store and backups, on their first use). Checked in a fresh Node process
 * that records every module specifier the relay's import graph resolves.
 */
import { describe, expect, it } from 'vitest';
import { runTracingImports } from '../fixtures/import-trace.ts';

const script = `
await import('./app/src/server.ts');
const sdk = [...seen].filter((s) => s.includes('client-bedrock-runtime'));
console.log(JSON.stringify({ before: sdk, s3: [...seen].filter((s) => s.startsWith('@aws-sdk/')) }));
const { sendBedrock } = await import('./app/src/providers/bedrock/transport.ts');
const channel = { name: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', timeouts: { connectMs: 200 } };
await sendBedrock(
  { url: 'http://127.0.0.1:1/model/m/converse', method: 'POST', headers: {}, body: '{"messages":[]}' },
  { channel, timeouts: { connectMs: 200, firstByteMs: 500, idleMs: 500 }, signal: new AbortController().signal, media: { maxBytes: 1, timeoutMs: 1 } },
).catch(() => {});
console.log(JSON.stringify({ after: [...seen].filter((s) => s.includes('client-bedrock-runtime')) }));
`;

describe('Bedrock SDK loading', () => {
  it('is not imported by the relay at start, only by the first Bedrock call', () => {
    const { lines, stderr } = runTracingImports(script);
    expect(lines, stderr).toHaveLength(2);
    expect(lines[0]!.before).toEqual([]);
    // Nor S3's (image store, backups): loaded only by a relay configured to use them.
    expect(lines[0]!.s3).toEqual([]);
    expect(lines[1]!.after).toContain('@aws-sdk/client-bedrock-runtime');
  });
});
