/**
 * What a first real deploy would hit, and what keeps the data and the host safe afterwards
 * (issue "Deploy hardening"), checked on the synthesized templates.
 */
import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOST_PATHS } from '../../lib/constructs/relay-host-files.ts';
import { joined, onlyResource, resourceNamed, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

// Init metadata is free-form JSON; the assertions below say what they expect of it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

/** The relay instance's CloudFormation Init metadata. */
const initOf = (x: Synthesized): Json =>
  (onlyResource(x.relay, 'AWS::EC2::Instance').resource.Metadata as Record<string, Json>)[
    'AWS::CloudFormation::Init'
  ];

const logicalIdOf = (type: string, prefix = '') => resourceNamed(s.relay, type, prefix).logicalId;

/** The subnet of the host's network interface. */
const hostSubnetOf = (x: Synthesized): { logicalId: string; resource: Json } => {
  const eni = onlyResource(x.relay, 'AWS::EC2::NetworkInterface').resource.Properties!;
  const logicalId = (eni.SubnetId as { Ref: string }).Ref;
  return { logicalId, resource: (x.relay.toJSON() as Json).Resources[logicalId] };
};

/** The default route of a subnet's route table. */
const defaultRouteOf = (x: Synthesized, subnet: string): string => {
  const resources = (x.relay.toJSON() as Json).Resources as Record<string, Json>;
  const association = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::EC2::SubnetRouteTableAssociation' && r.Properties.SubnetId.Ref === subnet,
  );
  const [id] = Object.entries(resources).find(
    ([, r]) =>
      r.Type === 'AWS::EC2::Route' &&
      r.Properties.RouteTableId.Ref === association.Properties.RouteTableId.Ref,
  )!;
  return id;
};

describe('ordering on the first deploy', () => {
  it('the ENI and the instance wait for the gateway attachment and the private subnet route through the NAT gateway', () => {
    const attachment = onlyResource(s.relay, 'AWS::EC2::VPCGatewayAttachment').logicalId;
    const route = defaultRouteOf(s, hostSubnetOf(s).logicalId);
    const nat = onlyResource(s.relay, 'AWS::EC2::NatGateway');
    expect((s.relay.toJSON() as Json).Resources[route].Properties.NatGatewayId).toEqual({
      Ref: nat.logicalId,
    });
    for (const type of ['AWS::EC2::NetworkInterface', 'AWS::EC2::Instance']) {
      const { resource } = onlyResource(s.relay, type);
      expect(resource.DependsOn, type).toEqual(expect.arrayContaining([attachment, route]));
    }
    // The NAT gateway itself waits for the public subnet's route to the internet gateway.
    const publicSubnet = (nat.resource.Properties!.SubnetId as { Ref: string }).Ref;
    expect(nat.resource.DependsOn).toContain(defaultRouteOf(s, publicSubnet));
  });

  it('with the public-DNS origin, the Elastic IP, its association, the ENI and the instance wait for the gateway and the route', () => {
    const pub = synth({
      context: { originType: 'public-dns', cloudfrontPrefixListId: 'pl-3b927c52' },
    });
    const attachment = onlyResource(pub.relay, 'AWS::EC2::VPCGatewayAttachment').logicalId;
    const route = onlyResource(pub.relay, 'AWS::EC2::Route').logicalId;
    for (const type of [
      'AWS::EC2::EIP',
      'AWS::EC2::EIPAssociation',
      'AWS::EC2::NetworkInterface',
      'AWS::EC2::Instance',
    ]) {
      const { resource } = onlyResource(pub.relay, type);
      expect(resource.DependsOn, type).toEqual(expect.arrayContaining([attachment, route]));
    }
  });
});

describe('Availability Zone', () => {
  it('is the first zone by name unless set; when set, the subnets and the data volume use it', () => {
    const zones = (x: Synthesized) =>
      Object.values(x.relay.findResources('AWS::EC2::Subnet')).map(
        (r) => r.Properties.AvailabilityZone,
      );
    expect(zones(s)).toEqual([
      { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
      { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
    ]);

    const chosen = synth({ context: { availabilityZone: 'us-east-1b' } });
    expect(zones(chosen)).toEqual(['us-east-1b', 'us-east-1b']);
    expect(
      onlyResource(chosen.relay, 'AWS::EC2::Volume').resource.Properties!.AvailabilityZone,
    ).toBe('us-east-1b');
  });
});

describe('data that survives the host', () => {
  it('lives on its own encrypted gp3 volume that leaves a snapshot when deleted or replaced', () => {
    const volume = onlyResource(s.relay, 'AWS::EC2::Volume').resource;
    expect(volume.Properties).toMatchObject({ Encrypted: true, VolumeType: 'gp3', Size: 20 });
    expect(volume.DeletionPolicy).toBe('Snapshot');
    expect(volume.UpdateReplacePolicy).toBe('Snapshot');
    // In the instance's zone: a volume attaches only within its own.
    expect(volume.Properties!.AvailabilityZone).toEqual(
      hostSubnetOf(s).resource.Properties.AvailabilityZone,
    );
  });

  it('is attached at launch and mounted on the data directory before anything is written there', () => {
    const volume = onlyResource(s.relay, 'AWS::EC2::Volume').logicalId;
    const instance = onlyResource(s.relay, 'AWS::EC2::Instance').resource;
    expect(instance.Properties!.Volumes).toEqual([
      { Device: '/dev/sdf', VolumeId: { Ref: volume } },
    ]);
    const init = initOf(s);
    const mount = joined(init.system.files['/usr/local/libexec/llm-relay/mount-data'].content);
    expect(mount).toContain(`volume='<${volume}>'`);
    expect(mount).toContain("mnt='/var/lib/llm-relay'");
    expect(mount).toContain('xfs_growfs');
    const order = Object.keys(init.system.commands);
    expect(order.indexOf('15-data-volume')).toBeLessThan(order.indexOf('20-dirs'));
    expect(init.system.commands['15-data-volume'].command).toBe(
      '/usr/local/libexec/llm-relay/mount-data',
    );
  });

  it('grows in place: a larger dataVolumeGiB changes the volume size and re-runs the mount, nothing else', () => {
    const grown = synth({ context: { dataVolumeGiB: 40 } });
    const before = onlyResource(s.relay, 'AWS::EC2::Volume');
    const after = onlyResource(grown.relay, 'AWS::EC2::Volume');
    expect(after.logicalId).toBe(before.logicalId);
    expect(after.resource.Properties!.Size).toBe(40);
    const env = (x: Synthesized) => initOf(x).system.commands['15-data-volume'].env;
    expect(env(s)).toEqual({ DATA_VOLUME_GIB: '20' });
    expect(env(grown)).toEqual({ DATA_VOLUME_GIB: '40' });
    expect(onlyResource(grown.relay, 'AWS::EC2::Instance').logicalId).toBe(
      onlyResource(s.relay, 'AWS::EC2::Instance').logicalId,
    );
  });

  it('can start from a snapshot (a recovery point)', () => {
    const restored = synth({ context: { dataVolumeSnapshotId: 'snap-0123456789abcdef0' } });
    expect(onlyResource(restored.relay, 'AWS::EC2::Volume').resource.Properties!.SnapshotId).toBe(
      'snap-0123456789abcdef0',
    );
  });

  it('is backed up daily by AWS Backup, kept 35 days in a retained vault of the Stateful stack', () => {
    // Not in the Relay stack: a vault retained from a deleted Relay stack keeps its name, and the
    // stack deployed again (a teardown, a zone move) would fail to create it.
    s.relay.resourceCountIs('AWS::Backup::BackupVault', 0);
    const vault = onlyResource(s.stateful, 'AWS::Backup::BackupVault');
    expect(vault.resource.DeletionPolicy).toBe('Retain');
    const plan = onlyResource(s.relay, 'AWS::Backup::BackupPlan').resource.Properties!
      .BackupPlan as { BackupPlanRule: Record<string, unknown>[] };
    expect(plan.BackupPlanRule).toEqual([
      expect.objectContaining({
        ScheduleExpression: 'cron(0 5 * * ? *)',
        Lifecycle: { DeleteAfterDays: 35 },
      }),
    ]);
    expect(joined(plan.BackupPlanRule[0]!.TargetBackupVault)).toMatch(
      new RegExp(
        `^<import:LlmRelay-Stateful:ExportsOutputFnGetAtt${vault.logicalId}BackupVaultName`,
      ),
    );
    const selection = onlyResource(s.relay, 'AWS::Backup::BackupSelection').resource.Properties!
      .BackupSelection as { Resources: unknown[] };
    const volume = onlyResource(s.relay, 'AWS::EC2::Volume').logicalId;
    expect(selection.Resources.map(joined)).toEqual([
      `arn:<AWS::Partition>:ec2:us-east-1:<AWS::AccountId>:volume/<${volume}>`,
    ]);
    const shorter = synth({ context: { backupRetentionDays: 7 } });
    shorter.relay.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [Match.objectLike({ Lifecycle: { DeleteAfterDays: 7 } })],
      },
    });
  });

  it('is also backed up hourly by the relay itself, to its own prefix of the image bucket', () => {
    const init = initOf(s);
    const config = JSON.parse(
      joined(init.relay.files['/etc/llm-relay/relay.config.json'].content).replaceAll(
        /<import:[^>]+>/g,
        'bucket',
      ),
    ) as { backup: Record<string, unknown> };
    expect(config.backup).toEqual({
      bucket: 'bucket',
      region: 'us-east-1',
      prefix: 'backups/sqlite/',
    });
    const bucket = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'ImagesBucket').logicalId;
    const policy = resourceNamed(s.stateful, 'AWS::IAM::ManagedPolicy', 'ImagesBackupPolicy')
      .resource.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] };
    expect(policy.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/backups/*']] },
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['backups/*'] } },
      },
    ]);
  });

  it('is protected from deletion: the relay stack and the instance', () => {
    expect(s.stacks.relay.terminationProtection).toBe(true);
    expect(
      onlyResource(s.relay, 'AWS::EC2::Instance').resource.Properties!.DisableApiTermination,
    ).toBe(true);
  });
});

describe('WAF', () => {
  it('a us-east-1 web ACL with the IP reputation list and a per-IP rate limit guards the distribution', () => {
    const acl = onlyResource(s.certificate, 'AWS::WAFv2::WebACL').resource.Properties!;
    expect(acl).toMatchObject({ Scope: 'CLOUDFRONT', DefaultAction: { Allow: {} } });
    const rules = acl.Rules as Json[];
    expect(rules.map((r) => r.Statement)).toEqual([
      {
        ManagedRuleGroupStatement: {
          VendorName: 'AWS',
          Name: 'AWSManagedRulesAmazonIpReputationList',
        },
      },
      {
        RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
      },
    ]);
    // A block looks like any other rate limit to an OpenAI SDK: 429 with the error shape.
    expect(rules[1]!.Action.Block.CustomResponse.ResponseCode).toBe(429);
    const body = (acl.CustomResponseBodies as Record<string, { Content: string }>)['rate-limited']!;
    expect(JSON.parse(body.Content)).toMatchObject({
      error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
    });

    const dist = onlyResource(s.relay, 'AWS::CloudFront::Distribution').resource.Properties!
      .DistributionConfig as { WebACLId: unknown };
    expect(joined(dist.WebACLId)).toMatch(
      /^<output:LlmRelay-Certificate@us-east-1:.*WafWebAcl.*Arn/,
    );
  });

  it('follows wafRateLimit, reaches a distribution in another region, and can be turned off', () => {
    const eu = synth({
      context: { region: 'eu-west-1', wafRateLimit: 500 },
    });
    eu.certificate.hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([
        Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 500 }) } }),
      ]),
    });
    const dist = onlyResource(eu.relay, 'AWS::CloudFront::Distribution').resource.Properties!
      .DistributionConfig as { WebACLId: unknown };
    expect(joined(dist.WebACLId)).toMatch(
      /^<output:LlmRelay-Certificate@us-east-1:.*WafWebAcl.*Arn/,
    );

    const off = synth({ context: { waf: false } });
    off.certificate.resourceCountIs('AWS::WAFv2::WebACL', 0);
    const offDist = onlyResource(off.relay, 'AWS::CloudFront::Distribution').resource.Properties!
      .DistributionConfig as { WebACLId?: unknown };
    expect(offDist.WebACLId).toBeUndefined();
  });
});

describe('read-only ops policy', () => {
  type Statement = {
    Sid: string;
    Action: string | string[];
    Resource: unknown;
    Condition?: unknown;
  };
  const statements = () =>
    (
      resourceNamed(s.relay, 'AWS::IAM::ManagedPolicy', 'OpsPolicy').resource.Properties!
        .PolicyDocument as { Statement: Statement[] }
    ).Statement;
  const bySid = (sid: string) => statements().find((st) => st.Sid === sid)!;

  it("reads the relay's log group (Logs Insights, FilterLogEvents) and nothing else's", () => {
    const logs = bySid('RelayLogRead');
    expect(logs.Action).toEqual(
      expect.arrayContaining(['logs:StartQuery', 'logs:FilterLogEvents']),
    );
    expect([logs.Resource].flat().map(joined)).toEqual([
      'arn:<AWS::Partition>:logs:us-east-1:<AWS::AccountId>:log-group:/llm-relay/relay',
      'arn:<AWS::Partition>:logs:us-east-1:<AWS::AccountId>:log-group:/llm-relay/relay:*',
    ]);
  });

  it('reads dashboards, metrics and alarms, and writes nothing anywhere', () => {
    const actions = statements().flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining([
        'cloudwatch:GetDashboard',
        'cloudwatch:GetMetricData',
        'cloudwatch:DescribeAlarms',
        'logs:GetQueryResults',
      ]),
    );
    const writes = actions.filter(
      (a) =>
        !/:(Get|List|Describe|Filter|StartQuery|StopQuery|StartSession|TerminateSession|ResumeSession)/.test(
          a,
        ),
    );
    expect(writes).toEqual([]);
  });

  it('opens a Session Manager shell on this instance only, through its own document only, and is an output', () => {
    const instance = onlyResource(s.relay, 'AWS::EC2::Instance').logicalId;
    const document = onlyResource(s.relay, 'AWS::SSM::Document').logicalId;
    const shell = bySid('ShellOnTheRelayHost');
    expect(shell.Action).toBe('ssm:StartSession');
    expect([shell.Resource].flat().map(joined)).toEqual([
      `arn:<AWS::Partition>:ec2:us-east-1:<AWS::AccountId>:instance/<${instance}>`,
      `arn:<AWS::Partition>:ssm:us-east-1:<AWS::AccountId>:document/<${document}>`,
    ]);
    // Without the check, a start-session that names no document gets the default
    // SSM-SessionManagerRunShell (ssm-user, with sudo) without IAM looking at documents at all.
    expect(shell.Condition).toEqual({ BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' } });
    expect(JSON.stringify(statements())).not.toContain('SSM-SessionManagerRunShell');
    const policy = logicalIdOf('AWS::IAM::ManagedPolicy', 'OpsPolicy');
    expect(s.relay.findOutputs('OpsReadOnlyPolicyArn').OpsReadOnlyPolicyArn!.Value).toEqual({
      Ref: policy,
    });
    expect(s.relay.findOutputs('OpsSessionDocument').OpsSessionDocument!.Value).toEqual({
      Ref: document,
    });
  });

  it('runs those shells as an unprivileged user the host creates: no sudo, not in the relay group', () => {
    const document = onlyResource(s.relay, 'AWS::SSM::Document').resource.Properties!;
    expect(document).toMatchObject({ DocumentType: 'Session' });
    const content = document.Content as Json;
    expect(content.sessionType).toBe('Standard_Stream');
    expect(content.inputs).toMatchObject({
      runAsEnabled: true,
      runAsDefaultUser: 'llm-relay-ops',
    });
    const command: string = initOf(s).system.commands['11-ops-user'].command;
    expect(command).toContain('useradd');
    expect(command).toContain('--groups systemd-journal llm-relay-ops');
    expect(command).not.toMatch(/wheel|sudo|llm-relay(?!-ops)/);
    // Created before anything a session might look at, and idempotent across cfn-init runs.
    const order = Object.keys(initOf(s).system.commands);
    expect(order.indexOf('11-ops-user')).toBeLessThan(order.indexOf('15-data-volume'));
    expect(command).toMatch(/^id -u llm-relay-ops >\/dev\/null 2>&1 \|\| /);
  });

  it('the ops user reads the relay log directory (its group), not the config or the data', () => {
    const dirs: string = initOf(s).system.commands['20-dirs'].command;
    expect(initOf(s).system.commands['11-ops-user'].command).toContain('--user-group');
    expect(dirs).toContain('install -d -o llm-relay -g llm-relay-ops -m 0750 /var/log/llm-relay');
    expect(dirs).toContain('install -d -o llm-relay -g llm-relay -m 0750 /var/lib/llm-relay &&');
    expect(dirs).toContain('install -d -o root -g llm-relay -m 0750 /etc/llm-relay');
  });
});

describe('OS patching', () => {
  it('an AL2023 patch baseline for this host, installed weekly (rebooting only if needed), scanned daily', () => {
    const baseline = onlyResource(s.relay, 'AWS::SSM::PatchBaseline').resource.Properties!;
    expect(baseline).toMatchObject({
      OperatingSystem: 'AMAZON_LINUX_2023',
      PatchGroups: ['LlmRelay-Relay-relay'],
    });
    const instance = onlyResource(s.relay, 'AWS::EC2::Instance');
    expect(instance.resource.Properties!.Tags).toEqual(
      expect.arrayContaining([{ Key: 'Patch Group', Value: 'LlmRelay-Relay-relay' }]),
    );
    const associations = Object.values(s.relay.findResources('AWS::SSM::Association')).map(
      (a) => a.Properties,
    );
    expect(associations).toEqual([
      expect.objectContaining({
        Name: 'AWS-RunPatchBaseline',
        ScheduleExpression: 'cron(0 4 ? * SUN *)',
        ApplyOnlyAtCronInterval: true,
        Parameters: { Operation: ['Install'], RebootOption: ['RebootIfNeeded'] },
        Targets: [{ Key: 'InstanceIds', Values: [{ Ref: instance.logicalId }] }],
      }),
      expect.objectContaining({
        Name: 'AWS-RunPatchBaseline',
        Parameters: { Operation: ['Scan'], RebootOption: ['NoReboot'] },
      }),
    ]);
  });

  it("lets dnf see new AL2023 releases, not only the AMI's", () => {
    const init = initOf(s);
    expect(joined(init.system.files['/etc/dnf/vars/releasever'].content)).toBe('latest\n');
    const other = synth({ context: { patchSchedule: 'cron(30 2 ? * WED *)' } });
    other.relay.hasResourceProperties('AWS::SSM::Association', {
      ScheduleExpression: 'cron(30 2 ? * WED *)',
    });
  });
});

describe('non-streaming budget under the CloudFront read timeout', () => {
  const budget = (x: Synthesized) => {
    const init = initOf(x);
    const text = joined(init.relay.files['/etc/llm-relay/relay.config.json'].content);
    return (JSON.parse(text.replaceAll(/<[^>]+>/g, 'x')) as { server: Record<string, number> })
      .server.nonStreamBudgetMs;
  };

  it('is derived from originReadTimeoutSeconds, 5 s short of it', () => {
    expect(budget(s)).toBe(55_000);
    expect(budget(synth({ context: { originReadTimeoutSeconds: 180 } }))).toBe(175_000);
  });

  it("keeps an operator's lower value and refuses one the CDN would cut", () => {
    const lower = { relayConfig: { server: { nonStreamBudgetMs: 30_000 } } };
    expect(budget(synth({ context: lower }))).toBe(30_000);
    const higher = { relayConfig: { server: { nonStreamBudgetMs: 58_000 } } };
    expect(() => synth({ context: higher })).toThrow(/must stay below.*at most 55000/);
  });
});

describe('a failed activation is retried by the next deploy', () => {
  const activate = (x: Synthesized): Json => initOf(x).relay.commands['30-activate-release'];

  it('deployNonce changes the Init metadata (cfn-hup re-runs cfn-init), not the fingerprint', () => {
    const first = synth({ context: { deployNonce: '1001-1' } });
    const retry = synth({ context: { deployNonce: '1001-2' } });
    expect(activate(first).env).toEqual({ LLM_RELAY_DEPLOY: '1001-1' });
    expect(initOf(retry)).not.toEqual(initOf(first));
    // Same release and fingerprint: activate-release is a no-op when it is already live.
    expect(activate(retry).command).toEqual(activate(first).command);
    expect(activate(s).command).toEqual(activate(first).command);
    expect(activate(s).env).toBeUndefined();
  });

  it('deploy.yml passes a per-run deployNonce to the synth it deploys', () => {
    const workflow = readFileSync(
      new URL('../../.github/workflows/deploy.yml', import.meta.url),
      'utf8',
    );
    expect(workflow).toMatch(
      /npx cdk synth [^\n]*-c deployNonce=\$\{\{ github\.run_id \}\}-\$\{\{ github\.run_attempt \}\}/,
    );
  });
});

describe('corsOrigins reaches the API', () => {
  const cors = (x: Synthesized) => {
    const text = joined(initOf(x).relay.files['/etc/llm-relay/relay.config.json'].content);
    return (JSON.parse(text.replaceAll(/<[^>]+>/g, 'x')) as { server: { corsOrigins?: string[] } })
      .server.corsOrigins;
  };

  it("is the host config's server.corsOrigins, unless relayConfig sets its own", () => {
    const origins = ['https://chat.example.com'];
    expect(cors(synth({ context: { corsOrigins: origins } }))).toEqual(origins);
    const own = { server: { corsOrigins: ['https://app.example.com'] } };
    expect(cors(synth({ context: { corsOrigins: origins, relayConfig: own } }))).toEqual([
      'https://app.example.com',
    ]);
  });
});

describe('relay config validated at synth with the relay schema', () => {
  it('a typo fails the synth, naming the path, before anything reaches a host', () => {
    expect(() => synth({ context: { relayConfig: { server: { heartbeatMS: 1000 } } } })).toThrow(
      /relayConfig\.server.*heartbeatMS/,
    );
  });
});

describe('restoring the data volume from a snapshot', () => {
  const snap = 'snap-0123456789abcdef0';
  const volumeOf = (x: Synthesized) => onlyResource(x.relay, 'AWS::EC2::Volume');
  const attachedOf = (x: Synthesized): { Device: string; VolumeId: Json }[] =>
    onlyResource(x.relay, 'AWS::EC2::Instance').resource.Properties!.Volumes as Json;

  it('is a new volume (a new logical id: CloudFormation cannot change SnapshotId in place)', () => {
    const restored = synth({ context: { dataVolumeSnapshotId: snap } });
    expect(volumeOf(s).logicalId).toMatch(/^HostDataVolume[0-9A-F]{8}$/);
    expect(volumeOf(restored).logicalId).not.toBe(volumeOf(s).logicalId);
    expect(volumeOf(restored).resource.Properties!.SnapshotId).toBe(snap);
    const again = synth({ context: { dataVolumeSnapshotId: 'snap-0fedcba9876543210' } });
    expect(volumeOf(again).logicalId).not.toBe(volumeOf(restored).logicalId);
  });

  it('is attached under another device than the first volume, which the mount script looks for', () => {
    const restored = synth({ context: { dataVolumeSnapshotId: snap } });
    expect(attachedOf(s)).toEqual([{ Device: '/dev/sdf', VolumeId: expect.anything() }]);
    const [attached] = attachedOf(restored);
    expect(attached!.Device).toMatch(/^\/dev\/sd[g-p]$/);
    expect(attached!.VolumeId).toEqual({ Ref: volumeOf(restored).logicalId });
    const mount = joined(initOf(restored).system.files[HOST_PATHS.mountData].content);
    expect(mount).toContain(`device='${attached!.Device}'`);
    // The replaced-volume branch: the old volume is unmounted and its fstab line replaced.
    expect(mount).toMatch(/holds another volume[\s\S]*umount "\$mnt"/);
    expect(mount).toMatch(
      /if ! grep -q "\^UUID=\$uuid[^\n]*\n\s*sed -i [^\n]*\$mnt[^\n]*\/etc\/fstab/,
    );
  });
});

describe('switching originType', () => {
  it('keeps the VPC and its public subnet, moves the host (a new instance) onto a new data volume', () => {
    const snap = 'snap-0123456789abcdef0';
    const pub = synth({
      context: {
        originType: 'public-dns',
        cloudfrontPrefixListId: 'pl-3b927c52',
        dataVolumeSnapshotId: snap,
      },
    });
    const byType = (x: Synthesized, type: string) =>
      Object.entries(x.relay.findResources(type)).map(([id, r]) => [id, r.Properties] as const);
    expect(byType(pub, 'AWS::EC2::VPC')).toEqual(byType(s, 'AWS::EC2::VPC'));
    const publicSubnet = (x: Synthesized) =>
      byType(x, 'AWS::EC2::Subnet').filter(([, p]) => p.MapPublicIpOnLaunch === true);
    expect(publicSubnet(pub)).toEqual(publicSubnet(s));
    // The new instance is created before the old one is deleted, and attaches its data volume
    // at launch: the old volume is still attached to the old host, so the new one gets its own.
    const volume = (x: Synthesized) => onlyResource(x.relay, 'AWS::EC2::Volume');
    expect(volume(pub).logicalId).not.toBe(volume(s).logicalId);
    expect(volume(pub).resource.Properties!.SnapshotId).toBe(snap);
    // The interface moves to another subnet: CloudFormation replaces it, and with it the instance.
    expect(hostSubnetOf(pub).logicalId).not.toBe(hostSubnetOf(s).logicalId);
    expect(onlyResource(pub.relay, 'AWS::EC2::NetworkInterface').logicalId).toBe(
      onlyResource(s.relay, 'AWS::EC2::NetworkInterface').logicalId,
    );
  });
});
