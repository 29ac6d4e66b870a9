/**
 * Where the relay's log lines go when nobody passes a destination: stdout, as systemd (a file)
 * or a pipe (npm start | …, a container runtime) gives it. Real child processes, real file
 * descriptors.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const LOGGER_TS = join(import.meta.dirname, '../../app/src/logger.ts');
const WRITERS_TS = join(import.meta.dirname, '../fixtures/cluster-log-writers.ts');

/** A child that logs `lines` lines, then waits for stdin to close before exiting. */
function childLogging(lines: number, stdout: 'pipe' | number) {
  const code = `
    import { createLogger } from ${JSON.stringify(LOGGER_TS)};
    const log = createLogger();
    for (let i = 0; i < ${lines}; i++) log.info({ i }, 'line');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  `;
  return spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', stdout, 'inherit'],
  });
}

const parse = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { i: number; msg: string });

describe('logging to stdout', () => {
  it('never interleaves lines of cluster workers that share a pipe', async () => {
    // A reader that starts late fills the pipe; only writes of at most PIPE_BUF bytes are atomic,
    // so a logger that wrote blocks of lines to a pipe would tear some of them.
    const child = spawn(process.execPath, [WRITERS_TS, '10000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.pause();
    await new Promise((r) => setTimeout(r, 300));
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    child.stdout!.resume();
    await once(child, 'close');
    const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
    const torn = lines.filter((l) => {
      try {
        return !['line', 'primary'].includes((JSON.parse(l) as { msg?: string }).msg ?? '');
      } catch {
        return true;
      }
    });
    expect(torn.slice(0, 2)).toEqual([]);
    expect(lines).toHaveLength(1 + 3 * 10_000);
  });

  it('writes lines still buffered for a file when the process exits', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'logger-stdout-')), 'relay.log');
    const fd = openSync(file, 'a');
    const child = childLogging(5, fd);
    closeSync(fd);
    child.stdin!.end();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(parse(readFileSync(file, 'utf8')).map((l) => l.i)).toEqual([0, 1, 2, 3, 4]);
  });
});
