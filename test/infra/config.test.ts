import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeployConfigError, readDeployConfig } from '../../lib/config.ts';
import { CDK_JSON_CONTEXT } from './helpers.ts';

/** A channel as the relay's own schema accepts it. */
const DEEPSEEK = {
  name: 'ds',
  type: 'openai',
  baseUrl: 'https://api.deepseek.com/v1',
  apiKey: 'env:DEEPSEEK_API_KEY',
  models: ['deepseek-chat'],
};

const read = (context: Record<string, unknown>, env: Record<string, string> = {}, cwd?: string) =>
  readDeployConfig((key) => context[key], env, cwd);

const withDefaults = (overrides: Record<string, unknown>) => ({
  ...CDK_JSON_CONTEXT,
  ...overrides,
});

function failure(context: Record<string, unknown>, cwd?: string): string {
  try {
    read(context, {}, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(DeployConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the settings to be rejected');
}

describe('deploy settings (CDK context)', () => {
  it('takes githubRepo in the immutable owner@id/name@id form the deploy docs ask for', () => {
    const ctx = { ...CDK_JSON_CONTEXT, githubRepo: 'octo-org@123456/llm-relay@654321' };
    expect(read(ctx).github.repository).toBe('octo-org@123456/llm-relay@654321');
    expect(read({ ...CDK_JSON_CONTEXT, githubRepo: 'octo-org/llm-relay' }).github.repository).toBe(
      'octo-org/llm-relay',
    );
  });

  it('accepts the cdk.json defaults without AWS credentials or an account', () => {
    const config = read({ ...CDK_JSON_CONTEXT });
    expect(config).toMatchObject({
      account: undefined,
      region: 'us-east-1',
      apiDomain: 'api.example.com',
      hostedZone: { kind: 'create', zoneName: 'example.com' },
      instanceType: 't4g.small',
      instanceArch: 'arm64',
      availabilityZone: undefined,
      dataVolumeGiB: 20,
      dataVolumeSnapshotId: undefined,
      backupRetentionDays: 35,
      patchSchedule: 'cron(0 4 ? * SUN *)',
      relayPort: 8787,
      originType: 'vpc-origin',
      originProtocol: 'http-only',
      originReadTimeoutSeconds: 60,
      cloudfrontPrefixList: { id: 'pl-3b927c52' },
      waf: { enabled: true, rateLimit: 2000 },
      corsOrigins: ['*'],
      logGroupName: '/llm-relay/relay',
      logRetentionDays: 30,
      ssmPrefix: '/llm-relay',
      github: { repository: undefined, environment: 'production' },
    });
  });

  it('reads -c values, which arrive as strings, as numbers and lists', () => {
    const config = read(
      withDefaults({
        relayPort: '9000',
        originReadTimeoutSeconds: '30',
        corsOrigins: 'https://chat.example.com, https://app.example.com',
        relayConfig: `{"channels":[${JSON.stringify(DEEPSEEK)}]}`,
        waf: 'false',
        wafRateLimit: '500',
        dataVolumeGiB: '40',
      }),
    );
    expect(config.relayPort).toBe(9000);
    expect(config.originReadTimeoutSeconds).toBe(30);
    expect(config.corsOrigins).toEqual(['https://chat.example.com', 'https://app.example.com']);
    expect(config.relayConfig).toEqual({ channels: [DEEPSEEK] });
    expect(config.waf).toEqual({ enabled: false, rateLimit: 500 });
    expect(config.dataVolumeGiB).toBe(40);
  });

  it('takes an Availability Zone of the region, and the public-DNS origin as an option', () => {
    const config = read(
      withDefaults({
        region: 'eu-west-1',
        availabilityZone: 'eu-west-1b',
        originType: 'public-dns',
        cloudfrontPrefixListId: 'pl-4fa04526',
      }),
    );
    expect(config.availabilityZone).toBe('eu-west-1b');
    expect(config.originType).toBe('public-dns');
    // The VPC origin needs no CloudFront address list, so no lookup and no account either.
    expect(read(withDefaults({ region: 'eu-west-1' })).originType).toBe('vpc-origin');
  });

  it("relayWorkers sets the relay's server.workers, keeping the rest of its server section", () => {
    const base = { relayConfig: { server: { bodyLimitBytes: 1024 } } };
    expect(read(withDefaults({ ...base, relayWorkers: '2' })).relayConfig).toEqual({
      server: { bodyLimitBytes: 1024, workers: 2 },
    });
    expect(read(withDefaults({ relayWorkers: 'auto' })).relayConfig).toEqual({
      server: { workers: 'auto' },
    });
    // Unset: the relay config decides (the relay's default is one process).
    expect(read(withDefaults(base)).relayConfig).toEqual(base.relayConfig);
  });

  it('imports a hosted zone by id and name, without a lookup', () => {
    const config = read(
      withDefaults({ hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' }),
    );
    expect(config.hostedZone).toEqual({
      kind: 'import',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      zoneName: 'example.com',
    });
  });

  it('infers x86_64 for non-Graviton instance types', () => {
    expect(read(withDefaults({ instanceType: 't3.small' })).instanceArch).toBe('x86_64');
    expect(read(withDefaults({ instanceType: 'c7gn.large' })).instanceArch).toBe('arm64');
  });

  it('takes the default account from the CLI environment when not set', () => {
    expect(read({ ...CDK_JSON_CONTEXT }, { CDK_DEFAULT_ACCOUNT: '111122223333' }).account).toBe(
      '111122223333',
    );
  });

  it('uses a context prefix list id, or a lookup when the region has no known id', () => {
    expect(
      read(withDefaults({ region: 'eu-west-1', cloudfrontPrefixListId: 'pl-4fa04526' }))
        .cloudfrontPrefixList,
    ).toEqual({ id: 'pl-4fa04526' });
    expect(
      read(withDefaults({ region: 'eu-west-1', account: '111122223333' })).cloudfrontPrefixList,
    ).toEqual({ lookup: true });
  });

  it('loads the relay config from relayConfigFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-cfg-'));
    writeFileSync(join(dir, 'relay.deploy.json'), JSON.stringify({ channels: [DEEPSEEK] }));
    const config = read(withDefaults({ relayConfigFile: 'relay.deploy.json' }), {}, dir);
    expect(config.relayConfig).toEqual({ channels: [DEEPSEEK] });
  });

  describe('rejects, naming the key and showing an example:', () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['a missing apiDomain', { apiDomain: undefined }, 'apiDomain', /is required/],
      ['a malformed apiDomain', { apiDomain: 'not a domain' }, 'apiDomain', /DNS name/],
      [
        'an apiDomain outside the zone',
        { apiDomain: 'api.example.org', hostedZoneName: 'example.com' },
        'apiDomain',
        /inside the hosted zone example\.com/,
      ],
      ['a malformed region', { region: 'mars' }, 'region', /region/],
      ['an account that is not 12 digits', { account: '1234' }, 'account', /12-digit/],
      ['a bad instance type', { instanceType: 'huge' }, 'instanceType', /instance type/],
      [
        'an arch that contradicts the type',
        { instanceType: 't3.small', instanceArch: 'arm64' },
        'instanceArch',
        /does not match/,
      ],
      ['a privileged port', { relayPort: 80 }, 'relayPort', />=1024/],
      ['a non-numeric port', { relayPort: 'eighty' }, 'relayPort', /number/],
      ['an unknown origin protocol', { originProtocol: 'tls' }, 'originProtocol', /http-only/],
      [
        'an HTTPS origin protocol toward a relay that serves HTTP',
        { originProtocol: 'https-only' },
        'originProtocol',
        /must be http-only.*502/,
      ],
      [
        'the viewer-matching origin protocol',
        { originProtocol: 'match-viewer' },
        'originProtocol',
        /must be http-only.*502/,
      ],
      ['an unknown origin type', { originType: 'alb' }, 'originType', /vpc-origin/],
      [
        'a read timeout shorter than the non-streaming margin',
        { originReadTimeoutSeconds: 5 },
        'originReadTimeoutSeconds',
        />=10/,
      ],
      [
        'an Availability Zone of another region',
        { availabilityZone: 'us-west-2a' },
        'availabilityZone',
        /zone of region us-east-1/,
      ],
      [
        'an Availability Zone id',
        { availabilityZone: 'use1-az1' },
        'availabilityZone',
        /Zone name/,
      ],
      ['a waf flag that is not a boolean', { waf: 'maybe' }, 'waf', /true or false/],
      ['a tiny WAF rate limit', { wafRateLimit: 5 }, 'wafRateLimit', />=10/],
      ['a bad snapshot id', { dataVolumeSnapshotId: 'vol-1' }, 'dataVolumeSnapshotId', /snapshot/],
      ['a bad patch schedule', { patchSchedule: 'sundays' }, 'patchSchedule', /cron/],
      [
        "a read timeout above CloudFront's maximum",
        { originReadTimeoutSeconds: 600 },
        'originReadTimeoutSeconds',
        /<=180/,
      ],
      [
        'a bad prefix list id',
        { cloudfrontPrefixListId: 'cf-list' },
        'cloudfrontPrefixListId',
        /prefix list id/,
      ],
      [
        'a public-DNS origin in a region without a known prefix list and no account to look it up',
        { region: 'eu-west-1', originType: 'public-dns' },
        'cloudfrontPrefixListId',
        /look(ed)? up/,
      ],
      [
        'a CORS origin with a path',
        { corsOrigins: ['https://a.com/x'] },
        'corsOrigins.0',
        /origin/,
      ],
      [
        'a retention CloudWatch does not offer',
        { logRetentionDays: 31 },
        'logRetentionDays',
        /one of/,
      ],
      [
        'an ssmPrefix with a trailing slash',
        { ssmPrefix: '/llm-relay/' },
        'ssmPrefix',
        /start with/,
      ],
      ['no relay workers', { relayWorkers: 0 }, 'relayWorkers', /1 to 256 or "auto"/],
      ['relay workers by name', { relayWorkers: 'many' }, 'relayWorkers', /1 to 256 or "auto"/],
      ['a bad alarm email', { alarmEmail: 'ops' }, 'alarmEmail', /email/],
      ['an idle alarm longer than a day', { idleAlarmHours: 48 }, 'idleAlarmHours', /<=24/],
      ['a githubRepo without owner', { githubRepo: 'llm-relay' }, 'githubRepo', /owner\/name/],
      [
        'a hostedZoneId without its name',
        { hostedZoneId: 'Z0123456789ABCDEFGHIJ' },
        'hostedZoneName',
        /required when hostedZoneId/,
      ],
      [
        'a provider key written into the relay config',
        { relayConfig: { channels: [{ name: 'ds', apiKey: 'sk-live-abc' }] } },
        'relayConfig.channels.0.apiKey',
        /env:NAME/,
      ],
      [
        'client keys in the relay config',
        { relayConfig: { keys: [{ name: 'alice', key: 'sk-alice-0123456789abcdef' }] } },
        'relayConfig.keys',
        /keys CLI/,
      ],
      [
        "a typo the relay's own schema rejects",
        { relayConfig: { channels: [DEEPSEEK], prices: { 'deepseek-chat': { inptu: 1 } } } },
        'relayConfig.prices.deepseek-chat',
        /Unrecognized key.*inptu/,
      ],
      [
        'a channel without a base URL',
        { relayConfig: { channels: [{ name: 'ds', apiKey: 'env:DEEPSEEK_API_KEY' }] } },
        'relayConfig.channels.0.baseUrl',
        /expected string/,
      ],
      [
        'a wrong type in the server section',
        { relayConfig: { server: { heartbeatMs: '15s' } } },
        'relayConfig.server.heartbeatMs',
        /expected number/,
      ],
      [
        'both relayConfig and relayConfigFile',
        { relayConfig: {}, relayConfigFile: 'x.json' },
        'relayConfig',
        /cannot be combined/,
      ],
      [
        'a missing relayConfigFile',
        { relayConfigFile: 'nope.json' },
        'relayConfigFile',
        /cannot read/,
      ],
    ];

    it.each(cases)('%s', (_name, overrides, key, reason) => {
      const message = failure(withDefaults(overrides));
      const line = message.split('\n').find((l) => l.includes(`context "${key}"`));
      expect(line, message).toBeDefined();
      expect(line).toMatch(reason);
      expect(line).toMatch(/\(example: .+\)/);
    });
  });

  it('never echoes a rejected secret back', () => {
    const message = failure(
      withDefaults({ relayConfig: { channels: [{ name: 'ds', apiKey: 'sk-live-SECRET123' }] } }),
    );
    expect(message).not.toContain('sk-live-SECRET123');
  });

  it('reports problems in relayConfigFile under that key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-cfg-'));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ channels: [{ name: 'x', apiKey: 'sk-1' }] }),
    );
    const message = failure(withDefaults({ relayConfigFile: 'bad.json' }), dir);
    expect(message).toContain('context "relayConfigFile.channels.0.apiKey"');
  });
});
