/**
 * The DynamoDB SDK is loaded only when the config names the DynamoDB store: the SQLite default
 * (one host) pays nothing for it at start. Checked in a fresh Node process that records every
 * module specifier the relay's import graph resolves.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTracingImports } from '../fixtures/import-trace.ts';

const script = (dataDir: string) => `
const dynamo = () => [...seen].filter((s) => s.startsWith('@aws-sdk/') && s.includes('dynamodb'));
await import('./app/src/server.ts');
const { createStore } = await import('./app/src/store/create-store.ts');
const context = { dataDir: ${JSON.stringify(dataDir)} };
const sqlite = await createStore({ store: { type: 'sqlite', holdLeaseMs: 60000 } }, context);
await sqlite.close();
console.log(JSON.stringify({ before: dynamo() }));
const store = await createStore(
  { store: { type: 'dynamodb', tablePrefix: 'lazy-', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', holdLeaseMs: 60000 } },
  context,
);
await store.close();
console.log(JSON.stringify({ after: dynamo() }));
`;

describe('DynamoDB SDK loading', () => {
  it('is not imported by a relay on SQLite, only when the DynamoDB store is opened', () => {
    const { lines, stderr } = runTracingImports(
      script(mkdtempSync(join(tmpdir(), 'dynamo-lazy-'))),
    );
    expect(lines, stderr).toHaveLength(2);
    expect(lines[0]!.before).toEqual([]);
    expect(lines[1]!.after).toContain('@aws-sdk/client-dynamodb');
  });
});
