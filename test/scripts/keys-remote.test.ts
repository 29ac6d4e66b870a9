import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeysRemote } from '../../scripts/keys-remote.ts';
import { startFakeSsm } from '../fixtures/aws/ssm.ts';
import type { FakeSsm, RemoteRun } from '../fixtures/aws/ssm.ts';
import { captureIo } from '../fixtures/io.ts';

const INSTANCE = 'i-0abc123def4567890';

/**
 * Stands in for the relay host: a long-running Node process plays the service (its
 * environment and working directory are what the keys CLI must inherit), stub `systemctl`
 * and `runuser` answer for systemd, and a stub keys.mjs reports what it was given.
 */
function fakeHost() {
  const root = mkdtempSync(join(tmpdir(), 'relay-host-'));
  const bin = join(root, 'bin');
  const app = join(root, 'app');
  const data = join(root, 'data');
  for (const dir of [bin, app, data]) mkdirSync(dir);
  const service: ChildProcess = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {
    cwd: data,
    env: {
      RELAY_CONFIG: '/etc/llm-relay/relay.config.json',
      RELAY_DATA_DIR: data,
      DEEPSEEK_API_KEY: 'sk-host-only',
      PATH: '/usr/bin:/bin',
    },
    stdio: 'ignore',
  });
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script(
    'systemctl',
    `case "$*" in *MainPID*) echo "$STUB_PID";; *User*) echo relay;; *) exit 1;; esac`,
  );
  script(
    'runuser',
    `[ "$1" = -u ] && [ "$3" = -- ] || exit 64\necho "ran as $2" >&2\nshift 3\nexec "$@"`,
  );
  writeFileSync(
    join(app, 'keys.mjs'),
    `console.log(JSON.stringify({ argv: process.argv.slice(2), config: process.env.RELAY_CONFIG, cwd: process.cwd(), hasProviderKey: Boolean(process.env.DEEPSEEK_API_KEY), home: process.env.HOME ?? null }));\nif (process.argv[2] === 'disable') { console.error('no key named ghost'); process.exit(3); }\n`,
  );
  // The SSM agent runs the script from a file with no terminal and no socket on stdin.
  const run = (commands: string) =>
    new Promise<RemoteRun>((resolve) => {
      const child = execFile(
        'bash',
        ['--norc', '--noprofile', '-c', commands],
        { env: { PATH: `${bin}:/usr/bin:/bin`, STUB_PID: String(service.pid) }, timeout: 10_000 },
        (error, stdout, stderr) =>
          resolve({ stdout, stderr, exitCode: error ? Number(error.code ?? 1) : 0 }),
      );
      child.stdin?.end();
    });
  return { root, app, data, service, run };
}

let host: ReturnType<typeof fakeHost>;
let ssm: FakeSsm;
beforeAll(async () => {
  host = fakeHost();
  ssm = await startFakeSsm({ instances: [INSTANCE], run: (script) => host.run(script) });
});
afterAll(async () => {
  host.service.kill();
  await ssm.close();
});

async function keysRemote(args: string[]) {
  const io = captureIo(ssm.endpoint);
  const code = await runKeysRemote(args, io);
  return { code, io };
}

describe('keys on the deployed host', () => {
  it('runs the keys CLI through AWS-RunShellScript with the service’s user, environment and directory', async () => {
    const { code, io } = await keysRemote([
      '--instance-id',
      INSTANCE,
      '--app-dir',
      host.app,
      '--',
      'create',
      '--name',
      "o'brien & co",
      '--quota',
      '5',
    ]);
    expect(io.err).toEqual(['ran as relay']);
    expect(code).toBe(0);
    expect(JSON.parse(io.out[0]!)).toEqual({
      argv: ['create', '--name', "o'brien & co", '--quota', '5'],
      config: '/etc/llm-relay/relay.config.json',
      cwd: host.data,
      hasProviderKey: true,
      home: null,
    });
    expect(ssm.commands.at(-1)).toMatchObject({
      document: 'AWS-RunShellScript',
      instanceIds: [INSTANCE],
    });
    const polls = ssm.requests.filter((r) => r.operation === 'AmazonSSM.GetCommandInvocation');
    expect(polls.length).toBeGreaterThanOrEqual(3);
  });

  it('passes the remote failure on: its output, its exit code in the message, and exit 5', async () => {
    const { code, io } = await keysRemote([
      '--instance-id',
      INSTANCE,
      '--app-dir',
      host.app,
      '--',
      'disable',
      '--name',
      'ghost',
    ]);
    expect(code).toBe(5);
    expect(io.err).toContain('no key named ghost');
    expect(io.err.at(-1)).toMatch(
      /^error: keys disable on i-0abc123def4567890 ended Failed \(exit 3\) — command cmd-\d+$/,
    );
  });

  it('shows the script in a dry run and sends nothing', async () => {
    const before = ssm.requests.length;
    const { code, io } = await keysRemote([
      '--instance-id',
      INSTANCE,
      '--dry-run',
      '--',
      'create',
      '--name',
      'alice',
    ]);
    expect(code).toBe(0);
    expect(io.out[0]).toBe(`dry run: would run on ${INSTANCE} (AWS-RunShellScript):`);
    expect(io.out.join('\n')).toContain("'/opt/llm-relay/current/keys.mjs'");
    expect(io.out.join('\n')).toContain("unit='llm-relay'");
    expect(ssm.requests.length).toBe(before);
  });

  it('names an instance SSM cannot reach (exit 4) and refuses a missing instance or command (exit 2)', async () => {
    const unknown = await keysRemote(['--instance-id', 'i-00000000000000000', '--', 'list']);
    expect(unknown.code).toBe(4);
    expect(unknown.io.err[0]).toContain(
      'instance i-00000000000000000 is not reachable through SSM',
    );
    const missing = await keysRemote(['--', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.io.err[0]).toMatch(
      /^error: missing --instance-id: the relay host, the InstanceId output of the LlmRelay-Relay stack .* or set RELAY_INSTANCE_ID$/,
    );
    const malformed = await keysRemote(['--instance-id', 'web-1', '--', 'list']);
    expect(malformed.code).toBe(2);
    expect(malformed.io.err[0]).toBe(
      'error: --instance-id must be an EC2 instance id (i-0123...); got "web-1"',
    );
    expect((await keysRemote(['--instance-id', INSTANCE])).code).toBe(2);
    expect((await keysRemote(['--instance-id', INSTANCE, '--', 'rm', '-rf'])).code).toBe(2);
  });
});
