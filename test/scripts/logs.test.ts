import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_GROUP, runLogs } from '../../scripts/logs.ts';
import { startFakeLogs } from '../fixtures/aws/cloudwatch-logs.ts';
import type { FakeLogs } from '../fixtures/aws/cloudwatch-logs.ts';
import { captureIo } from '../fixtures/io.ts';

const NOW = Date.parse('2026-11-20T12:00:00.000Z');
const at = (minutesAgo: number) => NOW - minutesAgo * 60_000;

function requestLine(minutesAgo: number, fields: Record<string, unknown>) {
  const line = {
    time: at(minutesAgo),
    level: 30,
    // The relay's access-log line as app/src/middleware/access-log.ts writes it.
    msg: 'request',
    method: 'POST',
    path: '/v1/chat/completions',
    latencyMs: 800,
    ttfbMs: 120,
    promptTokens: 10,
    completionTokens: 20,
    costUsd: 0.0001,
    ...fields,
  };
  return { timestamp: at(minutesAgo), message: JSON.stringify(line) };
}

let logs: FakeLogs;
beforeEach(async () => {
  logs = await startFakeLogs({ logGroupName: DEFAULT_LOG_GROUP, pageSize: 2 });
  logs.put(
    {
      timestamp: at(50),
      message: JSON.stringify({ time: at(50), level: 30, msg: 'listening on 8787' }),
    },
    requestLine(40, {
      requestId: 'req-a1',
      keyName: 'alice',
      model: 'deepseek-chat',
      channel: 'deepseek',
      status: 200,
    }),
    requestLine(30, {
      requestId: 'req-b1',
      keyName: 'bob',
      model: 'gpt-4o',
      channel: 'openai',
      status: 502,
      errorCode: 'upstream_error',
    }),
    requestLine(20, {
      requestId: 'req-a2',
      keyName: 'alice',
      model: 'gpt-4o',
      channel: 'openai',
      status: 200,
    }),
    requestLine(10, {
      requestId: 'req-a3',
      keyName: 'alice',
      model: 'deepseek-chat',
      channel: 'deepseek',
      status: 429,
      errorCode: 'insufficient_quota',
    }),
    requestLine(90, {
      requestId: 'req-old',
      keyName: 'alice',
      model: 'deepseek-chat',
      status: 200,
    }),
    { timestamp: at(5), message: 'plain text from the agent' },
  );
});
afterEach(() => logs.close());

const run = (args: string[], io = captureIo(logs.endpoint, { now: () => NOW })) =>
  runLogs(args, io).then((code) => ({ code, io }));

describe('logs search', () => {
  it('prints every line of the last hour across result pages, request lines as readable columns', async () => {
    const { code, io } = await run([]);
    expect(code).toBe(0);
    expect(io.out).toEqual([
      '2026-11-20T11:10:00.000Z  INFO   listening on 8787',
      '2026-11-20T11:20:00.000Z  200  POST /v1/chat/completions  key=alice  model=deepseek-chat  via=deepseek  800ms (ttfb 120ms)  tokens 10/20  $0.000100  req=req-a1',
      '2026-11-20T11:30:00.000Z  502  POST /v1/chat/completions  key=bob  model=gpt-4o  via=openai  800ms (ttfb 120ms)  tokens 10/20  $0.000100  req=req-b1  error=upstream_error',
      '2026-11-20T11:40:00.000Z  200  POST /v1/chat/completions  key=alice  model=gpt-4o  via=openai  800ms (ttfb 120ms)  tokens 10/20  $0.000100  req=req-a2',
      '2026-11-20T11:50:00.000Z  429  POST /v1/chat/completions  key=alice  model=deepseek-chat  via=deepseek  800ms (ttfb 120ms)  tokens 10/20  $0.000100  req=req-a3  error=insufficient_quota',
      '2026-11-20T11:55:00.000Z  plain text from the agent',
    ]);
    const calls = logs.requests.filter((r) => r.operation === 'Logs_20140328.FilterLogEvents');
    expect(calls).toHaveLength(3);
    expect(JSON.parse(calls[0]!.body)).toMatchObject({
      logGroupName: '/llm-relay/relay',
      startTime: at(60),
    });
    expect(JSON.parse(calls[2]!.body).nextToken).toBe('4');
  });

  it('narrows by key, model and status class with a JSON filter pattern', async () => {
    const { io } = await run(['--key', 'alice', '--status', '4xx', '--since', '2h']);
    expect(io.out).toHaveLength(1);
    expect(io.out[0]).toContain('req=req-a3');
    const body = JSON.parse(logs.requests.at(-1)!.body);
    expect(body.filterPattern).toBe(
      '{ ($.keyName = "alice") && ($.status >= 400) && ($.status <= 499) }',
    );

    const byModel = await run(['--model', 'deepseek-chat', '--since', '2h']);
    expect(byModel.io.out.map((l) => /req=(\S+)/.exec(l)?.[1])).toEqual([
      'req-old',
      'req-a1',
      'req-a3',
    ]);
  });

  it('finds one request by id and can print it as raw JSON', async () => {
    const { io } = await run(['--request-id', 'req-b1', '--json']);
    expect(io.out).toHaveLength(1);
    expect(JSON.parse(io.out[0]!)).toMatchObject({
      requestId: 'req-b1',
      status: 502,
      keyName: 'bob',
    });
  });

  it('stops at --limit', async () => {
    const { io } = await run(['--limit', '3']);
    expect(io.out).toHaveLength(3);
  });

  it('follows new lines as they arrive, each printed once, until interrupted', async () => {
    const controller = new AbortController();
    const io = captureIo(logs.endpoint, { now: () => NOW, signal: controller.signal });
    const following = runLogs(['--follow', '--key', 'alice'], io);
    await expect.poll(() => io.out.length, { timeout: 5000 }).toBe(3);
    logs.put(
      requestLine(1, { requestId: 'req-new', keyName: 'alice', model: 'gpt-4o', status: 200 }),
    );
    logs.put(
      requestLine(1, { requestId: 'req-bob', keyName: 'bob', model: 'gpt-4o', status: 200 }),
    );
    await expect.poll(() => io.out.length, { timeout: 5000 }).toBe(4);
    // A few more polls must not repeat anything.
    const before = logs.requests.length;
    await expect.poll(() => logs.requests.length, { timeout: 5000 }).toBeGreaterThan(before + 3);
    controller.abort();
    expect(await following).toBe(0);
    expect(io.out.map((l) => /req=(\S+)/.exec(l)?.[1])).toEqual([
      'req-a1',
      'req-a2',
      'req-a3',
      'req-new',
    ]);
  });

  it('names the missing log group and exits 4', async () => {
    const { code, io } = await run(['--log-group', '/nope']);
    expect(code).toBe(4);
    expect(io.err.join('\n')).toContain('log group /nope not found in eu-west-1');
  });

  it('rejects filter values that could break out of the pattern, and bad options, with exit 2', async () => {
    expect((await run(['--key', 'a" || $.x = "b'])).code).toBe(2);
    expect((await run(['--status', 'bad'])).code).toBe(2);
    expect((await run(['--since', 'yesterday'])).code).toBe(2);
    expect((await run(['--frobnicate'])).code).toBe(2);
    expect(logs.requests).toHaveLength(0);
  });
});

describe('logs top', () => {
  it('runs a Logs Insights query, waits for it and prints requests, errors and tokens by model and key', async () => {
    const { code, io } = await run(['top', '--since', '24h']);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    expect(logs.queries).toHaveLength(1);
    expect(logs.queries[0]!.queryString).toContain('by model, key');
    expect(logs.queries[0]).toMatchObject({
      startTime: (NOW - 86_400_000) / 1000,
      endTime: NOW / 1000,
    });
    const polls = logs.requests.filter((r) => r.operation === 'Logs_20140328.GetQueryResults');
    expect(polls).toHaveLength(2);
    expect(io.out[0]).toContain('(5 requests matched)');
    expect(io.out.slice(1)).toEqual([
      'MODEL          KEY    REQUESTS  ERRORS    ERR%  PROMPT_TOK  COMPL_TOK  COST_USD  AVG_MS',
      '-------------  -----  --------  ------  ------  ----------  ---------  --------  ------',
      'deepseek-chat  alice         3       1   33.3%          30         60   $0.0003     800',
      'gpt-4o         bob           1       1  100.0%          10         20   $0.0001     800',
      'gpt-4o         alice         1       0    0.0%          10         20   $0.0001     800',
      'TOTAL                        5       2   40.0%          50        100   $0.0005',
    ]);
  });

  it('groups by model alone', async () => {
    const { io } = await run(['top', '--by', 'model']);
    expect(logs.queries[0]!.queryString).toMatch(/by model\n/);
    expect(io.out.slice(3, 5).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['deepseek-chat', '3', '1'],
      ['gpt-4o', '2', '1'],
    ]);
  });
});
