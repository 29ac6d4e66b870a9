/**
 * The host's own files run for real: the systemd unit's commands in the order systemd runs them
 * (on a fresh host, before relay.env exists), and activate-release switching releases with the
 * real relay bundle, keeping a healthy one and rolling an unhealthy one back.
 */
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_ID_FILE, bundleBuildId } from '../../app/src/build-info.ts';
import {
  HOST_PATHS,
  activateReleaseScript,
  fetchSecretsScript,
  relayUnit,
} from '../../lib/constructs/relay-host-files.ts';
import { buildRelay } from '../../scripts/build-relay.ts';
import { joined, onlyResource, synth } from './helpers.ts';
import {
  hostSandbox,
  installFakeAws,
  installFakeSystemctl,
  parseUnit,
  startLikeSystemd,
  stopFakeService,
} from '../fixtures/host-sandbox.ts';
import type { HostSandbox } from '../fixtures/host-sandbox.ts';
import { freePort } from '../fixtures/relay-process.ts';

const ORIGIN_SECRET = 'origin-secret-from-secrets-manager-0123';
const CLIENT_KEY = 'sk-host-client-0123456789abcdef';

async function health(port: number): Promise<{ http: number; build?: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { ...((await res.json()) as { build?: string }), http: res.status };
  } catch {
    return undefined;
  }
}

async function waitForHealth(port: number, child?: ChildProcess, output = () => '') {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`relay exited:\n${output()}`);
    const h = await health(port);
    if (h) return h;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`relay did not answer /healthz:\n${output()}`);
}

/** The relay config as the host has it: secrets only by env reference. */
function writeHostConfig(sandbox: HostSandbox): void {
  writeFileSync(
    sandbox.path(HOST_PATHS.configFile),
    JSON.stringify({
      server: { originSecret: 'env:RELAY_ORIGIN_SECRET' },
      channels: [
        {
          name: 'upstream',
          baseUrl: 'http://127.0.0.1:9/v1',
          apiKey: 'env:UPSTREAM_API_KEY',
          models: ['m'],
        },
      ],
      keys: [{ name: 'host', key: CLIENT_KEY }],
    }),
  );
}

let bundleDir: string;
beforeAll(async () => {
  bundleDir = await buildRelay({ outdir: mkdtempSync(join(tmpdir(), 'relay-dist-')) });
});

describe('the scripts cfn-init writes', () => {
  it('all parse as bash, tokens resolved as CloudFormation would put them', () => {
    const { resource } = onlyResource(synth().relay, 'AWS::EC2::Instance');
    const init = (resource.Metadata as Record<string, Record<string, { files?: object }>>)[
      'AWS::CloudFormation::Init'
    ]!;
    const scripts = Object.values(init)
      .flatMap((config) => Object.entries(config.files ?? {}))
      .map(([path, f]) => ({ path, text: joined((f as { content: unknown }).content) }))
      .filter(({ text }) => text.startsWith('#!/bin/bash'));
    expect(scripts.map((x) => x.path).sort()).toEqual(
      [
        HOST_PATHS.backupWrapper,
        HOST_PATHS.keysWrapper,
        HOST_PATHS.activateRelease,
        HOST_PATHS.fetchSecrets,
        HOST_PATHS.mountData,
      ].sort(),
    );
    for (const { path, text } of scripts) {
      const check = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
      expect(check.stderr, path).toBe('');
      expect(check.status, path).toBe(0);
    }
  });
});

describe('systemd starts the relay on a fresh host', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  function freshHost(port: number) {
    const sandbox = hostSandbox();
    installFakeAws(sandbox, {
      originSecret: ORIGIN_SECRET,
      parameters: { '/llm-relay/env/UPSTREAM_API_KEY': 'sk-upstream-from-ssm' },
    });
    const build = bundleBuildId(bundleDir);
    cpSync(bundleDir, sandbox.path(`${HOST_PATHS.releasesDir}/${build}`), { recursive: true });
    spawnSync('ln', ['-s', `releases/${build}`, sandbox.path(HOST_PATHS.current)]);
    sandbox.install(
      HOST_PATHS.fetchSecrets,
      sandbox.localize(
        fetchSecretsScript({
          region: 'us-east-1',
          originSecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:origin',
          envParameterPath: '/llm-relay/env/',
        }),
      ),
    );
    writeHostConfig(sandbox);
    const unitText = relayUnit({ port, region: 'us-east-1', stopTimeoutSeconds: 45 });
    const unit = parseUnit(sandbox.localize(unitText));
    return { sandbox, unit, unitText, build };
  }

  it('runs ExecStartPre, which writes relay.env, then ExecStart, which reads it and serves', async () => {
    const port = await freePort();
    const { sandbox, unit, build } = freshHost(port);
    const envFile = sandbox.path(HOST_PATHS.envFile);
    expect(existsSync(envFile)).toBe(false);

    let output = '';
    child = startLikeSystemd(unit, { path: `${sandbox.bin}:${process.env.PATH ?? ''}` });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));

    expect(await waitForHealth(port, child, () => output)).toMatchObject({ http: 200, build });
    // Written by the pre-start step for root only, holding what the relay needs.
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile, 'utf8')).toBe(
      `RELAY_ORIGIN_SECRET=${ORIGIN_SECRET}\nUPSTREAM_API_KEY=sk-upstream-from-ssm\n`,
    );
    // The relay got the origin secret from that file: requests need it, and pass with it.
    const models = (secret?: string) =>
      fetch(`http://127.0.0.1:${port}/v1/models`, {
        headers: {
          authorization: `Bearer ${CLIENT_KEY}`,
          ...(secret && { 'x-origin-secret': secret }),
        },
      });
    expect((await models()).status).toBe(403);
    expect((await models(ORIGIN_SECRET)).status).toBe(200);
  });

  it('would fail before ExecStartPre with a mandatory EnvironmentFile (the first-boot bug)', async () => {
    const { sandbox, unitText } = freshHost(await freePort());
    const mandatory = parseUnit(
      sandbox.localize(unitText.replace('EnvironmentFile=-', 'EnvironmentFile=')),
    );
    expect(() =>
      startLikeSystemd(mandatory, { path: `${sandbox.bin}:${process.env.PATH ?? ''}` }),
    ).toThrow(/Failed to load environment files .* before ExecStartPre/);
  });
});

describe('activate-release', () => {
  let sandbox: HostSandbox;
  let port: number;
  let good: string;
  let broken: string;
  const script = () => join(sandbox.root, 'activate-release');

  beforeAll(async () => {
    sandbox = hostSandbox();
    port = await freePort();
    installFakeSystemctl(sandbox);
    writeHostConfig(sandbox);
    writeFileSync(script(), activateReleaseScript({ port }), { mode: 0o755 });

    good = bundleBuildId(bundleDir);
    cpSync(bundleDir, sandbox.path(`${HOST_PATHS.releasesDir}/${good}`), { recursive: true });
    // A release that cannot start: the same bundle with a server that dies at once.
    const bad = mkdtempSync(join(tmpdir(), 'relay-bad-'));
    cpSync(bundleDir, bad, { recursive: true });
    writeFileSync(join(bad, 'server.mjs'), 'console.error("boom"); process.exit(1);\n');
    broken = bundleBuildId(bad);
    writeFileSync(join(bad, BUILD_ID_FILE), `${broken}\n`);
    cpSync(bad, sandbox.path(`${HOST_PATHS.releasesDir}/${broken}`), { recursive: true });
  });
  afterAll(() => stopFakeService(sandbox));

  const unit = () =>
    parseUnit(sandbox.localize(relayUnit({ port, region: 'us-east-1', stopTimeoutSeconds: 45 })));

  function activate(id: string, fingerprint = id, service: Record<string, string> = {}) {
    return spawnSync(script(), [id, fingerprint], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: `${sandbox.bin}:${process.env.PATH ?? ''}`,
        LLM_RELAY_ROOT: sandbox.path(HOST_PATHS.root),
        LLM_RELAY_CONFIG: sandbox.path(HOST_PATHS.configFile),
        LLM_RELAY_NODE: process.execPath,
        LLM_RELAY_HEALTH_TIMEOUT: '6',
        // What the fake systemd runs: the unit's own ExecStart, through the `current` link.
        FAKE_SERVICE_CMD: unit().execStart,
        ...unit().environment,
        RELAY_ORIGIN_SECRET: ORIGIN_SECRET,
        UPSTREAM_API_KEY: 'sk-upstream',
        RELAY_DATA_DIR: sandbox.path(HOST_PATHS.dataDir),
        RELAY_CONFIG: sandbox.path(HOST_PATHS.configFile),
        ...service,
      },
    });
  }
  const live = () => readlinkSync(sandbox.path(HOST_PATHS.current));
  const restarts = () =>
    existsSync(join(sandbox.root, 'systemctl.log'))
      ? readFileSync(join(sandbox.root, 'systemctl.log'), 'utf8').trim().split('\n').length
      : 0;

  it('switches a healthy release live and records it', async () => {
    const run = activate(good);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`release ${good} is live`);
    expect(live()).toBe(`releases/${good}`);
    expect(await health(port)).toMatchObject({ http: 200, build: good });
  });

  it('does nothing when the same release and fingerprint are already live', () => {
    const before = restarts();
    const run = activate(good);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('already live');
    expect(restarts()).toBe(before);
  });

  it('restarts for a new fingerprint of the same release (a config change)', async () => {
    const before = restarts();
    expect(activate(good, 'f00dfeedf00dfeed').status).toBe(0);
    expect(restarts()).toBe(before + 1);
    expect(await health(port)).toMatchObject({ build: good });
  });

  it("reads /healthz as JSON: the build id counts whatever the body's spacing", async () => {
    // A stand-in service answering pretty-printed JSON, which a text match on "build":"<id>" misses.
    const pretty = join(sandbox.root, 'pretty-health.mjs');
    writeFileSync(
      pretty,
      `import { createServer } from 'node:http';
createServer((_, res) => res.end(JSON.stringify({ status: 'ok', build: process.env.PRETTY_BUILD }, null, 2)))
  .listen(Number(process.env.PRETTY_PORT), '127.0.0.1');
`,
    );
    const run = activate(good, 'c0ffeec0ffeec0ff', {
      FAKE_SERVICE_CMD: `${process.execPath} ${pretty}`,
      PRETTY_PORT: String(port),
      PRETTY_BUILD: good,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // Back to the real relay for the tests below.
    expect(activate(good, 'c0ffeec0ffeec0fe').status).toBe(0);
    expect(await health(port)).toMatchObject({ http: 200, build: good });
  }, 30_000);

  it('rolls an unhealthy release back to the previous one, which serves again, and fails', async () => {
    const run = activate(broken);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`release ${broken} did not report healthy`);
    expect(run.stderr).toContain(`rolling back to release ${good}`);
    expect(run.stderr).toContain(`release ${good} is live again`);
    expect(live()).toBe(`releases/${good}`);
    expect(await health(port)).toMatchObject({ http: 200, build: good });
  }, 30_000);

  /** What cfn-init writes beside a new release: a key the live release's strict schema refuses. */
  function writeNewerConfig(): string {
    const config = sandbox.path(HOST_PATHS.configFile);
    const before = readFileSync(config, 'utf8');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(before), featureOfNextRelease: true }));
    return before;
  }

  it('rolls the config back with the release, so the previous release serves again', async () => {
    const before = writeNewerConfig();
    const run = activate(broken);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`restored the config release ${good} was live with`);
    expect(run.stderr).toContain(`release ${good} is live again`);
    expect(readFileSync(sandbox.path(HOST_PATHS.configFile), 'utf8')).toBe(before);
    expect(await health(port)).toMatchObject({ http: 200, build: good });
  }, 30_000);

  it('rolls back a config the live release refuses (same release, new fingerprint)', async () => {
    const before = writeNewerConfig();
    const run = activate(good, 'badc0ffeebadc0ff');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`release ${good} is live again`);
    expect(readFileSync(sandbox.path(HOST_PATHS.configFile), 'utf8')).toBe(before);
    expect(await health(port)).toMatchObject({ http: 200, build: good });
  }, 30_000);

  it('keeps the live release and the newest others, dropping the rest', async () => {
    for (const [i, name] of [
      '1111111111111111',
      '2222222222222222',
      '3333333333333333',
    ].entries()) {
      const dir = sandbox.path(`${HOST_PATHS.releasesDir}/${name}`);
      cpSync(sandbox.path(`${HOST_PATHS.releasesDir}/${good}`), dir, { recursive: true });
      const old = new Date(Date.now() - (i + 1) * 86_400_000);
      spawnSync('touch', ['-d', old.toISOString(), dir]);
    }
    expect(activate(good, 'feedfacefeedface').status).toBe(0);
    const left = readdirSync(sandbox.path(HOST_PATHS.releasesDir)).sort();
    expect(left).toHaveLength(3);
    expect(left).toContain(good);
    expect(left).not.toContain('3333333333333333');
  });

  it('refuses what is not an installed build id', () => {
    expect(activate('../../etc').status).toBe(2);
    expect(activate('abcdefabcdefabcd').status).toBe(1);
    expect(live()).toBe(`releases/${good}`);
  });
});
