import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../app/src/logger.ts';

function capture(secrets: string[]) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ destination, secrets: () => secrets }), lines };
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
});
