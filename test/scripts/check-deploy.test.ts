/**
 * The deploy workflow's last step: the API, through the CDN, must report the build the deploy
 * shipped. A real HTTP server stands in for CloudFront plus the host switching releases.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CFN_INIT_RERUN, runCheckDeploy } from '../../scripts/check-deploy.ts';
import { captureIo } from '../fixtures/io.ts';

const NEW_BUILD = '0123456789abcdef';
const OLD_BUILD = 'fedcba9876543210';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

/** Answers /healthz like the relay; `buildFor(n)` is the build the n-th request sees. */
async function api(buildFor: (n: number) => string | undefined): Promise<string> {
  let n = 0;
  server = createServer((req, res) => {
    if (req.url !== '/healthz') return void res.writeHead(404).end();
    const build = buildFor(++n);
    if (build === undefined) return void res.writeHead(502).end('<html>Bad gateway</html>');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', uptimeSeconds: 3, build }));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

/** What `cdk deploy --outputs-file` writes, for every stack of the app. */
function outputsFile(base: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cdk-outputs-')), 'cdk-outputs.json');
  writeFileSync(
    file,
    JSON.stringify({
      'LlmRelay-Stateful': { ImageBucketName: 'bucket' },
      'LlmRelay-Relay': { ApiBaseUrl: `${base}/v1`, RelayBuild: NEW_BUILD, InstanceId: 'i-0123' },
      'LlmRelay-Monitoring': { DashboardUrl: 'https://example.com' },
    }),
  );
  return file;
}

async function check(args: string[]) {
  const io = captureIo(undefined);
  const code = await runCheckDeploy(args, io);
  return { code, out: io.out.join('\n'), err: io.err.join('\n') };
}

describe('check-deploy', () => {
  it('waits through the old build and a bad gateway until the new build answers', async () => {
    const base = await api((n) => (n === 1 ? OLD_BUILD : n === 2 ? undefined : NEW_BUILD));
    const run = await check([
      '--outputs',
      outputsFile(base),
      '--interval',
      '1s',
      '--timeout',
      '30s',
    ]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain(`try 1: HTTP 200, build ${OLD_BUILD}`);
    expect(run.out).toContain('try 2: HTTP 502, build unknown');
    expect(run.out).toContain(`ok: LlmRelay-Relay serves build ${NEW_BUILD} (try 3)`);
  });

  it('fails (exit 5) when the new build never shows, e.g. after a rollback', async () => {
    const base = await api(() => OLD_BUILD);
    const run = await check([
      '--outputs',
      outputsFile(base),
      '--interval',
      '1s',
      '--timeout',
      '2s',
    ]);
    expect(run.code).toBe(5);
    expect(run.err).toContain(`did not report build ${NEW_BUILD}`);
    // cfn-hup never retries a failed activation on its own: the way to retry is printed.
    expect(run.err).toContain(CFN_INIT_RERUN);
    expect(CFN_INIT_RERUN).toContain('/etc/cfn/hooks.d/cfn-auto-reloader.conf');
  });

  it('rejects a missing or foreign outputs file', async () => {
    expect((await check([])).code).toBe(2);
    expect((await check(['--outputs', '/nonexistent/cdk-outputs.json'])).code).toBe(2);
    const other = join(mkdtempSync(join(tmpdir(), 'cdk-outputs-')), 'o.json');
    writeFileSync(other, JSON.stringify({ Other: { Foo: 'bar' } }));
    const foreign = await check(['--outputs', other]);
    expect(foreign.code).toBe(4);
    expect(foreign.err).toContain('ApiBaseUrl and RelayBuild');
  });
});
