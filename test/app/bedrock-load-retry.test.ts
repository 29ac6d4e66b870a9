/**
 * The Bedrock transport loads the AWS SDK on its first call. A load that fails (here: the SDK's
 * module file cannot be read, as with EMFILE) is the channel's connect failure, which fails over
 * to the next channel and would end in 502 upstream_unreachable, and the next Bedrock call loads
 * again rather than failing for the life of the process. Run in a fresh Node process whose module
 * hook fails the first read of the SDK's files.
 */
import { describe, expect, it } from 'vitest';
import { failFirstLoad, runNodeScript } from '../fixtures/import-trace.ts';

const script = `${failFirstLoad('/@aws-sdk/client-bedrock-runtime/')}
const { sendBedrock } = await import('./app/src/providers/bedrock/transport.ts');
const { runWithFailover } = await import('./app/src/routing/failover.ts');
const { BreakerRegistry } = await import('./app/src/routing/breaker.ts');
const { systemClock } = await import('./app/src/routing/clock.ts');
const { clientErrorFor } = await import('./app/src/proxy/client-error.ts');
const channel = { name: 'bedrock', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', timeouts: { connectMs: 200 } };
const call = (signal) => sendBedrock(
  { url: 'http://127.0.0.1:1/model/m/converse', method: 'POST', headers: {}, body: '{"messages":[]}' },
  { channel, timeouts: { connectMs: 200, firstByteMs: 2000, idleMs: 2000 }, signal, media: { maxBytes: 1, timeoutMs: 1 } },
);
const result = await runWithFailover({
  candidates: [{ name: 'bedrock', priority: 0 }, { name: 'backup', priority: 1 }],
  maxAttemptsPerChannel: 1,
  maxTotalMs: 10_000,
  clock: systemClock,
  breaker: new BreakerRegistry(systemClock),
  attempt: async (c, ctx) => (c.name === 'backup' ? { ok: true, value: 'backup' } : call(ctx.signal)),
  onAttempt: (e) => { if (e.type === 'failure') console.log(JSON.stringify({ first: e.failure, loads })); },
});
const alone = clientErrorFor('exhausted', JSON.parse(JSON.stringify(result.attempts[0].failure)));
console.log(JSON.stringify({ answered: result.ok && result.value, status: alone.status, code: alone.code }));
const err = await call(new AbortController().signal).then(() => undefined, (e) => e);
console.log(JSON.stringify({ second: err?.failure, loads }));
`;

describe('the Bedrock transport when its SDK fails to load', () => {
  it('fails over as unreachable, then loads again on the next call', () => {
    const {
      lines: [first, outcome, second],
      stderr,
    } = runNodeScript(script);
    expect(first, stderr).toEqual({
      first: { kind: 'connect', message: 'bedrock: the AWS SDK could not be loaded (EMFILE)' },
      loads: 1,
    });
    expect(outcome, stderr).toEqual({
      answered: 'backup',
      status: 502,
      code: 'upstream_unreachable',
    });
    // Loaded this time: the failure is the (refused) endpoint's, not a remembered load error.
    expect(second, stderr).toMatchObject({ second: { kind: 'connect' } });
    expect((second!.second as { message: string }).message).not.toContain('could not be loaded');
    expect(second!.loads).toBeGreaterThan(1);
  });
});
