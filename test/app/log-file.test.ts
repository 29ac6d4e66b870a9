/**
 * The relay's log when stdout is a regular file, as systemd's `StandardOutput=append:` gives it
 * on the host: lines gather into blocks, and none is lost to that. A lone line is written on a
 * timer; the exit writes what is gathered (the last line, "stopped", only it can); every line is
 * whole JSON.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const CLIENT_KEY = 'sk-log-file-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'relay-log-'));
let relay: RelayProcess | undefined;

afterEach(async () => {
  relay?.proc.kill('SIGKILL');
  await relay?.exited;
  relay = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function relayLoggingTo(file: string): Promise<RelayProcess> {
  relay = await spawnRelay({
    config: { channels: [], keys: [{ name: 'alice', key: CLIENT_KEY, models: ['*'] }] },
    logFile: file,
  });
  return relay;
}

function lines(file: string): { msg: string; requestId?: string; path?: string }[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; requestId?: string; path?: string });
}

/** The request lines in the file, by request id. */
function requestLines(file: string): string[] {
  return lines(file)
    .filter((l) => l.msg === 'request' && l.path === '/v1/models')
    .map((l) => l.requestId!);
}

async function listModels(r: RelayProcess): Promise<string> {
  const res = await fetch(`${r.baseUrl}/v1/models`, {
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
  });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return res.headers.get('x-request-id')!;
}

describe('the log when stdout is a file', () => {
  it('writes a lone line on its timer, before any block fills', async () => {
    const file = join(mkdtempSync(join(dir, 'relay-')), 'relay.log');
    const r = await relayLoggingTo(file);
    const id = await listModels(r);
    await expect.poll(() => requestLines(file), { timeout: 3_000 }).toEqual([id]);
  });

  it('writes every line, whole and in order, through many blocks and at SIGTERM', async () => {
    const file = join(mkdtempSync(join(dir, 'relay-')), 'relay.log');
    const r = await relayLoggingTo(file);
    const ids: string[] = [];
    // ~400 bytes a line: a few dozen 4 KiB blocks, and a last one still gathering.
    for (let i = 0; i < 300; i++) ids.push(await listModels(r));
    r.proc.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
    expect(requestLines(file)).toEqual(ids);
    // Logged just before the process exits: only the exit's flush can have written it.
    expect(lines(file).at(-1)?.msg).toBe('stopped');
  });
});
