import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RELAY_NODE_FLAGS } from './node-flags.ts';

/** Runs `script` in the Node the relay is pinned to, with the relay's flags and `extra`. */
function runWithFlags(script: string, extra: string[] = []) {
  return spawnSync(process.execPath, [...RELAY_NODE_FLAGS, ...extra, '-e', script], {
    encoding: 'utf8',
    // No NODE_OPTIONS from the environment: its own flags could write to stderr.
    env: { PATH: process.env.PATH },
    timeout: 10_000,
  });
}

describe('RELAY_NODE_FLAGS', () => {
  // The systemd unit runs node with them: a flag the pinned Node no longer knew would stop the
  // relay from starting ("bad option") on every host at the next deploy.
  it('are all accepted by the Node the relay is pinned to', () => {
    const run = runWithFlags("process.stdout.write('started')");
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('started');
  });

  it('turn context frames off, and AsyncLocalStorage still works without them', () => {
    // No public API tells which implementation runs: Node's own option table, as Node reads it.
    const run = runWithFlags(
      `const { getOptionValue } = require('internal/options');
       const { AsyncLocalStorage } = require('node:async_hooks');
       const als = new AsyncLocalStorage();
       als.run('kept', async () => {
         await new Promise((r) => setTimeout(r, 1));
         const seen = [getOptionValue('--async-context-frame'), als.getStore()];
         process.stdout.write(JSON.stringify(seen));
       });`,
      ['--expose-internals'],
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([false, 'kept']);
  });
});
