/**
 * The DynamoDB SDK is loaded only when the config names the DynamoDB store: the SQLite default
 * (one host) pays nothing for it at start. Checked in a fresh Node process that records every
 * module specifier the relay's import graph resolves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = `${ROOT}node_modules/node/bin/node`;

const script = (dataDir: string) => `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    seen.add(specifier);
    return next(specifier, context);
  },
});
const dynamo = () => [...seen].filter((s) => s.includes('dynamodb'));
await import('./app/src/server.ts');
const { createStore } = await import('./app/src/store/create-store.ts');
const sqlite = await createStore({ store: { type: 'sqlite', holdLeaseMs: 60000 } }, { dataDir: ${JSON.stringify(dataDir)} });
await sqlite.close();
console.log(JSON.stringify({ before: dynamo() }));
const store = await createStore(
  { store: { type: 'dynamodb', tablePrefix: 'lazy-', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', holdLeaseMs: 60000 } },
  { dataDir: ${JSON.stringify(dataDir)} },
);
await store.close();
console.log(JSON.stringify({ after: dynamo() }));
`;

describe('DynamoDB SDK loading', () => {
  it('is not imported by a relay on SQLite, only when the DynamoDB store is opened', () => {
    const run = spawnSync(
      NODE,
      ['--input-type=module', '-e', script(mkdtempSync(join(tmpdir(), 'dynamo-lazy-')))],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'AKIDLAZY',
          AWS_SECRET_ACCESS_KEY: 'x',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      },
    );
    const lines = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, string[]>);
    expect(lines, run.stderr).toHaveLength(2);
    expect(lines[0]!.before).toEqual([]);
    expect(lines[1]!.after).toContain('@aws-sdk/client-dynamodb');
  });
});
