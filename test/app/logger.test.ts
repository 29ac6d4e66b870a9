import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, plainLineWriter } from '../../app/src/logger.ts';
import type { Logger } from '../../app/src/logger.ts';

function capture(secrets: string[], level?: string) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ destination, secrets: () => secrets, level }), lines };
}

describe('the logger', () => {
  it('blanks configured secrets out of logged errors, message and stack alike', () => {
    const { logger, lines } = capture(['sk-provider-TOPSECRET-1234']);
    logger.error(
      {
        err: new TypeError(
          'Headers.set: "Bearer sk-provider-TOPSECRET-1234" is an invalid header value.',
        ),
      },
      'boom',
    );
    expect(lines.join('')).not.toContain('TOPSECRET');
    expect(lines.join('')).toContain('[redacted]');
  });

  it('redacts authorization headers and key fields wherever an object is logged whole', () => {
    const { logger, lines } = capture([]);
    logger.info(
      {
        headers: { authorization: 'Bearer sk-client-1' },
        channel: { apiKey: 'sk-up-2' },
        originSecret: 'o-3',
      },
      'x',
    );
    const text = lines.join('');
    for (const secret of ['sk-client-1', 'sk-up-2', 'o-3']) expect(text).not.toContain(secret);
  });

  it('writes a plain line as the logger would, with the child bindings, at enabled levels only', () => {
    const { logger, lines } = capture([]);
    const child = logger.child({ worker: 2 });
    const fields = {
      requestId: 'req_1',
      path: '/v1/chat/completions?q="x"\u2028',
      status: 200,
      costUsd: 0.000014,
      latencyMs: Number.NaN,
      skipped: undefined,
      _aws: { Timestamp: 1, CloudWatchMetrics: [{ Dimensions: [['Service']] }] },
    };
    child.info(fields, 'request');
    plainLineWriter(child)('info', fields, 'request');
    plainLineWriter(child)('debug', fields, 'request');
    expect(lines).toHaveLength(2);
    const [viaPino, plain] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(plain).toEqual({ ...viaPino, time: plain!.time });
    expect(Object.keys(plain!).slice(0, 4)).toEqual(['level', 'time', 'service', 'worker']);
    expect(Object.keys(plain!).at(-1)).toBe('msg');
    expect(lines[1]!.endsWith('}\n')).toBe(true);
    expect(lines[1]!.split('\n')).toHaveLength(2);
  });
});

/**
 * A pino whose symbols no longer find the stream and bindings (a renamed or moved internal): the
 * logger's own methods still work, its internals are invisible to the writer.
 */
function movedInternals(logger: Logger): Logger {
  return new Proxy(logger, {
    get(target, prop) {
      if (typeof prop === 'symbol') return undefined;
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

describe('the plain line writer on a logger whose internals moved', () => {
  it('still writes every line, through the logger itself, when pino keeps its stream elsewhere', () => {
    const { logger, lines } = capture([]);
    const moved = movedInternals(logger);
    const write = plainLineWriter(moved);
    write('warn', { requestId: 'req_2', status: 404 }, 'request');
    write('debug', { requestId: 'req_3' }, 'request');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      service: 'llm-relay',
      requestId: 'req_2',
      status: 404,
      msg: 'request',
    });
  });

  it('still writes anyLevel lines (metrics) whatever the logger level, unless it is silent', () => {
    for (const [level, expected] of [
      ['warn', 1],
      ['error', 1],
      ['silent', 0],
    ] as const) {
      const { logger, lines } = capture([], level);
      const write = plainLineWriter(movedInternals(logger), { anyLevel: true });
      write('info', { Requests: 1 }, 'request metrics');
      expect(lines, level).toHaveLength(expected);
      if (expected) expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', Requests: 1 });
    }
  });
});
