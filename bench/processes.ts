/**
 * The benches' child processes and their output: every child is tracked, so that a run's
 * `finally` (and Ctrl-C) can stop what it started.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { Agent, request } from 'undici';

const children = new Set<ChildProcess>();

/** `cmd` started (pinned to `cpu` with taskset unless null) and tracked until it exits. */
export function spawnTracked(
  cpu: string | null,
  cmd: string,
  args: string[],
  opts: Parameters<typeof spawn>[2],
): ChildProcess {
  const proc =
    cpu === null ? spawn(cmd, args, opts) : spawn('taskset', ['-c', cpu, cmd, ...args], opts);
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** SIGTERM, and SIGKILL after 5 s. */
export async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}

/** Every tracked child still running, stopped. */
export async function stopAll(): Promise<void> {
  for (const c of children) await stopChild(c);
}

/** Every tracked child killed at once (on a signal, when there is no time to wait). */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** The port a child prints as its first stdout line (`{"port":N}`); the rest is drained. */
export async function portFromStdout(
  proc: ChildProcess,
  name: string,
  timeoutMs = 10_000,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), timeoutMs);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
    });
  });
}

/**
 * Polls `http://127.0.0.1:<port>/healthz` until it answers 200: every `everyMs`, each try cut at
 * `tryMs`. Throws when `proc` exits first or after `timeoutMs`, naming it `what`.
 */
export async function waitHealthy(
  proc: ChildProcess,
  port: number,
  opts: { timeoutMs: number; everyMs: number; tryMs: number; what: string },
): Promise<void> {
  const deadline = performance.now() + opts.timeoutMs;
  const poll = new Agent({ connections: 1, pipelining: 0 });
  try {
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`${opts.what} exited early (${proc.exitCode ?? proc.signalCode})`);
      const ok = await request(`http://127.0.0.1:${port}/healthz`, {
        dispatcher: poll,
        signal: AbortSignal.timeout(opts.tryMs),
      }).then(
        async (r) => {
          await r.body.dump();
          return r.statusCode === 200;
        },
        () => false,
      );
      if (ok) return;
      if (performance.now() > deadline)
        throw new Error(`${opts.what} did not answer /healthz in ${opts.timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, opts.everyMs));
    }
  } finally {
    await poll.close();
  }
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A markdown table; columns of short numbers align right, the others left. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = header.map((_, i) =>
    rows.every((r) => /^[+-]?[\d—]/.test(r[i] ?? '') && (r[i] ?? '').length <= 24),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2)));
  return [line(header), `|${rule.join('|')}|`, ...rows.map(line)].join('\n');
}
