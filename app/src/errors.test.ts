import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RelayError, toRelayError } from './errors.ts';

describe('RelayError', () => {
  it('carries no stack frames: it is an answer, and its code says where it came from', () => {
    const err = new RelayError(401, 'invalid_api_key', 'Incorrect API key provided.');
    expect(err.stack).toBe('RelayError: Incorrect API key provided.');
    expect(err).toBeInstanceOf(Error);
  });

  it('leaves every other error its stack', () => {
    const limit = Error.stackTraceLimit;
    void new RelayError(429, 'rate_limited', 'Slow down.');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('a bug').stack).toMatch(/\n\s+at /);
  });

  it("keeps a bug's stack as the cause of the 500 it becomes", () => {
    const bug = new TypeError('x is undefined');
    const err = toRelayError(bug);
    expect(err.status).toBe(500);
    expect(err.cause).toBe(bug);
    expect((err.cause as Error).stack).toMatch(/\n\s+at /);
  });

  it('is still made, with its stack, where the intrinsics are frozen', () => {
    const script = [
      "const { RelayError } = await import('./app/src/errors.ts');",
      "const err = new RelayError(400, 'bad', 'Bad.');",
      'console.log(JSON.stringify({ code: err.code, frames: /\\n\\s+at /.test(err.stack) }));',
    ].join('\n');
    const run = spawnSync(
      process.execPath,
      ['--frozen-intrinsics', '--no-warnings', '--input-type=module', '-e', script],
      { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') },
    );
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ code: 'bad', frames: true });
  });
});
