import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { relayConfigSchema } from '../../app/src/config.ts';
import { fakeBundle, joined, onlyResource, resourceNamed, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

// Raw template JSON; the assertions say what they expect of it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The Node.js major the project pins (exact devDependency `node`); the host must run the same. */
const PINNED_NODE_MAJOR = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    devDependencies: Record<string, string>;
  }
).devDependencies.node!.split('.')[0]!;

/** Runs an Init shell command with `node` replaced by a stub that reports `version`. */
function runWithNodeStub(command: string, node: string, version: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'node-stub-'));
  const stub = join(dir, 'node');
  if (version !== undefined) {
    writeFileSync(stub, `#!/bin/sh\necho ${version}\n`);
    chmodSync(stub, 0o755);
  }
  return spawnSync('/bin/sh', ['-c', command.replaceAll(node, stub)], { encoding: 'utf8' });
}

type Init = {
  configSets: Record<string, string[]>;
  system: {
    packages: { yum: Record<string, unknown> };
    commands: Record<string, { command: string }>;
  };
  relay: {
    sources: Record<string, unknown>;
    files: Record<string, { content: unknown; mode: string; owner: string; group: string }>;
    commands: Record<string, { command: string; env?: Record<string, string> }>;
    services: {
      systemd: Record<
        string,
        { enabled: boolean; ensureRunning: boolean; files?: string[]; sources?: string[] }
      >;
    };
  };
};

interface AgentConfig {
  metrics: {
    append_dimensions: Record<string, string>;
    metrics_collected: Record<string, Record<string, unknown>>;
  };
  logs: { logs_collected: { files: { collect_list: Record<string, unknown>[] } } };
}

function instanceOf(s: Synthesized) {
  const { logicalId, resource } = onlyResource(s.relay, 'AWS::EC2::Instance');
  const init = (resource.Metadata as Record<string, unknown>)['AWS::CloudFormation::Init'] as Init;
  return { logicalId, resource, props: resource.Properties!, init };
}

function file(init: Init, path: string): string {
  const f = init.relay.files[path];
  if (!f) throw new Error(`no Init file ${path}`);
  return joined(f.content);
}

describe('relay host', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      context: {
        relayConfig: {
          channels: [
            {
              name: 'deepseek',
              type: 'openai',
              baseUrl: 'https://api.deepseek.com/v1',
              apiKey: 'env:DEEPSEEK_API_KEY',
              models: ['deepseek-chat'],
            },
          ],
          prices: { 'deepseek-chat': { input: 0.27, output: 1.1 } },
          images: { store: 'local' },
        },
      },
    });
  });

  describe('instance', () => {
    it('runs the configured Graviton type on AL2023 resolved at launch, so new AMIs never replace it', () => {
      const { props } = instanceOf(s);
      expect(props.InstanceType).toBe('t4g.small');
      expect(props.ImageId).toBe(
        'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64',
      );
    });

    it('follows instanceType and its architecture from context', () => {
      const x86 = synth({ context: { instanceType: 't3.small' } });
      const { props } = instanceOf(x86);
      expect(props.InstanceType).toBe('t3.small');
      expect(props.ImageId).toMatch(/al2023-ami-kernel-default-x86_64$/);
    });

    it('requires IMDSv2', () => {
      s.relay.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
      });
      const { props } = instanceOf(s);
      expect(props.LaunchTemplate).toBeDefined();
    });

    it('has an encrypted gp3 root volume', () => {
      expect(instanceOf(s).props.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 20 } },
      ]);
    });

    it('has no SSH key pair', () => {
      expect(instanceOf(s).props.KeyName).toBeUndefined();
      s.relay.resourceCountIs('AWS::EC2::KeyPair', 0);
    });

    it('boots on its own network interface, with no public address (a VPC origin reaches it privately)', () => {
      const { props } = instanceOf(s);
      const eni = onlyResource(s.relay, 'AWS::EC2::NetworkInterface');
      expect(props.NetworkInterfaces).toEqual([
        { DeviceIndex: '0', NetworkInterfaceId: { Ref: eni.logicalId } },
      ]);
      expect(props.SubnetId).toBeUndefined();
      // The only Elastic IP is the NAT gateway's.
      const eip = onlyResource(s.relay, 'AWS::EC2::EIP').logicalId;
      const nat = onlyResource(s.relay, 'AWS::EC2::NatGateway').resource.Properties!;
      expect(nat.AllocationId).toEqual({ 'Fn::GetAtt': [eip, 'AllocationId'] });
      s.relay.resourceCountIs('AWS::EC2::EIPAssociation', 0);
    });

    it('sits in a private subnet whose way out is a NAT gateway in the public subnet', () => {
      const json = s.relay.toJSON() as { Resources: Record<string, Json> };
      const eni = onlyResource(s.relay, 'AWS::EC2::NetworkInterface');
      const subnetId = (eni.resource.Properties!.SubnetId as { Ref: string }).Ref;
      expect(json.Resources[subnetId].Properties.MapPublicIpOnLaunch).toBe(false);
      const nat = onlyResource(s.relay, 'AWS::EC2::NatGateway');
      const natSubnet = (nat.resource.Properties!.SubnetId as { Ref: string }).Ref;
      expect(json.Resources[natSubnet].Properties.MapPublicIpOnLaunch).toBe(true);
      // The host subnet's default route goes to the NAT gateway, not the internet gateway.
      const association = Object.values(
        s.relay.findResources('AWS::EC2::SubnetRouteTableAssociation'),
      ).find((r) => (r.Properties.SubnetId as { Ref: string }).Ref === subnetId);
      const table = (association!.Properties.RouteTableId as { Ref: string }).Ref;
      const routes = Object.values(s.relay.findResources('AWS::EC2::Route')).filter(
        (r) => (r.Properties.RouteTableId as { Ref: string }).Ref === table,
      );
      expect(routes.map((r) => r.Properties)).toEqual([
        expect.objectContaining({
          DestinationCidrBlock: '0.0.0.0/0',
          NatGatewayId: { Ref: nat.logicalId },
        }),
      ]);
    });

    it('reaches S3 (bundle, images, backups) through a gateway endpoint, off the NAT meter', () => {
      const endpoint = onlyResource(s.relay, 'AWS::EC2::VPCEndpoint');
      expect(endpoint.resource.Properties).toMatchObject({ VpcEndpointType: 'Gateway' });
      expect(joined(endpoint.resource.Properties!.ServiceName)).toMatch(/s3$/);
      expect(instanceOf(s).resource.DependsOn).toContain(endpoint.logicalId);
    });

    it('with the public-DNS origin: the public subnet, an Elastic IP on the interface, no NAT gateway', () => {
      const other = synth({
        context: { originType: 'public-dns', cloudfrontPrefixListId: 'pl-3b927c52' },
      });
      const json = other.relay.toJSON() as { Resources: Record<string, Json> };
      const instance = onlyResource(other.relay, 'AWS::EC2::Instance');
      const eni = onlyResource(other.relay, 'AWS::EC2::NetworkInterface');
      const association = onlyResource(other.relay, 'AWS::EC2::EIPAssociation');
      const eip = onlyResource(other.relay, 'AWS::EC2::EIP');
      expect(association.resource.Properties).toEqual({
        AllocationId: { 'Fn::GetAtt': [eip.logicalId, 'AllocationId'] },
        NetworkInterfaceId: { Ref: eni.logicalId },
      });
      expect(instance.resource.DependsOn).toContain(association.logicalId);
      const subnetId = (eni.resource.Properties!.SubnetId as { Ref: string }).Ref;
      expect(json.Resources[subnetId].Properties.MapPublicIpOnLaunch).toBe(true);
      other.relay.resourceCountIs('AWS::EC2::NatGateway', 0);
    });
  });

  describe('security group', () => {
    it("admits only the host's private subnet (CloudFront's VPC-origin interfaces), only on the relay port", () => {
      const ingress = s.relay.findResources('AWS::EC2::SecurityGroupIngress');
      const eni = onlyResource(s.relay, 'AWS::EC2::NetworkInterface').resource.Properties!;
      const subnet = (s.relay.toJSON() as { Resources: Record<string, Json> }).Resources[
        (eni.SubnetId as { Ref: string }).Ref
      ];
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
      expect(subnet.Properties.CidrBlock).toMatch(/^10\.80\.0\.\d+\/\d+$/);
      expect(Object.values(ingress).map((r) => r.Properties)).toEqual([
        expect.objectContaining({
          IpProtocol: 'tcp',
          FromPort: 8787,
          ToPort: 8787,
          CidrIp: subnet.Properties.CidrBlock,
        }),
      ]);
      const sg = onlyResource(s.relay, 'AWS::EC2::SecurityGroup');
      expect(sg.resource.Properties!.SecurityGroupIngress).toBeUndefined();
      // Not CloudFront's public address ranges: only the VPC origin reaches the host.
      expect(JSON.stringify(ingress)).not.toContain('SourcePrefixListId');
    });

    it('looks nothing up at deploy time, and the distribution waits for the rule', () => {
      // CloudFront's managed VPC-origins group may only exist after the distribution deploys:
      // a lookup of it right after the VPC origin could fail the first deploy.
      s.relay.resourceCountIs('Custom::AWS', 0);
      expect(JSON.stringify(s.relay.toJSON())).not.toContain('CloudFront-VPCOrigins-Service-SG');
      const ingress = onlyResource(s.relay, 'AWS::EC2::SecurityGroupIngress').logicalId;
      const distribution = onlyResource(s.relay, 'AWS::CloudFront::Distribution');
      expect(distribution.resource.DependsOn).toContain(ingress);
    });

    it('is open to nothing else: no 0.0.0.0/0 or ::/0 ingress and no port 22 anywhere', () => {
      const json = JSON.stringify(
        Object.values(s.relay.findResources('AWS::EC2::SecurityGroupIngress')).concat(
          Object.values(s.relay.findResources('AWS::EC2::SecurityGroup')).map(
            (r) => r.Properties.SecurityGroupIngress ?? [],
          ),
        ),
      );
      expect(json).not.toContain('0.0.0.0/0');
      expect(json).not.toContain('::/0');
      expect(json).not.toMatch(/"FromPort":22\b/);
    });

    it('with the public-DNS origin, admits the CloudFront prefix list instead (relayPort, id from context)', () => {
      const other = synth({
        context: {
          originType: 'public-dns',
          relayPort: 9000,
          region: 'eu-west-1',
          cloudfrontPrefixListId: 'pl-4fa04526',
        },
      });
      const ingress = Object.values(other.relay.findResources('AWS::EC2::SecurityGroupIngress'));
      expect(ingress.map((r) => r.Properties)).toEqual([
        expect.objectContaining({
          FromPort: 9000,
          ToPort: 9000,
          SourcePrefixListId: 'pl-4fa04526',
        }),
      ]);
    });
  });

  describe('IAM role', () => {
    it('has exactly the SSM core and CloudWatch agent managed policies plus the image and backup policies', () => {
      const role = resourceNamed(s.relay, 'AWS::IAM::Role', 'HostRole');
      const managed = role.resource.Properties!.ManagedPolicyArns as unknown[];
      const names = managed.map(joined);
      expect(names).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/:iam::aws:policy\/AmazonSSMManagedInstanceCore$/),
          expect.stringMatching(/:iam::aws:policy\/CloudWatchAgentServerPolicy$/),
          expect.stringMatching(/^<import:.*ImagesWriterPolicy/),
          expect.stringMatching(/^<import:.*ImagesBackupPolicy/),
        ]),
      );
      expect(names).toHaveLength(4);
    });

    it('reads the origin secret and only the SSM parameters under <ssmPrefix>/env', () => {
      const secret = onlyResource(s.relay, 'AWS::SecretsManager::Secret');
      s.relay.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
              Resource: { Ref: secret.logicalId },
            }),
          ]),
        },
      });
      const policy = resourceNamed(s.relay, 'AWS::IAM::Policy', 'HostRoleDefaultPolicy');
      const statements = (
        policy.resource.Properties!.PolicyDocument as {
          Statement: { Action: string | string[]; Resource: unknown }[];
        }
      ).Statement;
      const ssm = statements.find((st) => [st.Action].flat().includes('ssm:GetParametersByPath'));
      expect(ssm).toBeDefined();
      expect([ssm!.Resource].flat().map(joined)).toEqual([
        'arn:<AWS::Partition>:ssm:us-east-1:<AWS::AccountId>:parameter/llm-relay/env',
        'arn:<AWS::Partition>:ssm:us-east-1:<AWS::AccountId>:parameter/llm-relay/env/*',
      ]);
      // Nothing in the role's own policy touches the image bucket or grants s3:PutObject broadly.
      expect(JSON.stringify(statements)).not.toContain('s3:PutObject');
    });
  });

  describe('CloudFormation Init (the workload)', () => {
    it('installs the pinned Node.js major, the CloudWatch agent and logrotate from AL2023', () => {
      const { init } = instanceOf(s);
      expect(PINNED_NODE_MAJOR).toBe('24');
      expect(init.configSets).toEqual({ default: ['system', 'relay'] });
      expect(Object.keys(init.system.packages.yum).sort()).toEqual([
        'amazon-cloudwatch-agent',
        'logrotate',
        `nodejs${PINNED_NODE_MAJOR}`,
      ]);
      expect(init.system.commands['10-user']!.command).toContain(
        'useradd --system --user-group --home-dir /var/lib/llm-relay --shell /sbin/nologin llm-relay',
      );
    });

    it('fails cfn-init unless /usr/bin/node-<pinned major> runs that major', () => {
      const { init } = instanceOf(s);
      // Keys sort after the user and directory commands; cfn-init runs commands in key order.
      expect(Object.keys(init.system.commands)).toEqual([
        '10-user',
        '11-ops-user',
        '15-data-volume',
        '20-dirs',
        '30-node',
      ]);
      const check = init.system.commands['30-node']!.command;
      const node = `/usr/bin/node-${PINNED_NODE_MAJOR}`;
      expect(check).toContain(`${node} -p`);
      expect(runWithNodeStub(check, node, PINNED_NODE_MAJOR).status).toBe(0);
      const wrong = runWithNodeStub(check, node, '22');
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toContain(`is not Node.js ${PINNED_NODE_MAJOR} (got: 22)`);
      const missing = runWithNodeStub(check, node, undefined);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain('(got: none)');
    });

    it('ships each bundle as an asset into a release directory named after its build id', () => {
      const { init } = instanceOf(s);
      const build = s.stacks.relay.host.buildId;
      expect(build).toMatch(/^[0-9a-f]{16}$/);
      expect(Object.keys(init.relay.sources)).toEqual([`/opt/llm-relay/releases/${build}`]);
      expect(joined(init.relay.sources[`/opt/llm-relay/releases/${build}`])).toMatch(
        /[0-9a-f]{64}\.zip$/,
      );
      expect(s.relay.findOutputs('RelayBuild').RelayBuild!.Value).toBe(build);
    });

    it('activates the release after the files are written, with its id and a fingerprint', () => {
      const { init } = instanceOf(s);
      expect(Object.keys(init.relay.commands)).toEqual([
        '10-daemon-reload',
        '20-cloudwatch-agent',
        '30-activate-release',
      ]);
      expect(init.relay.commands['30-activate-release']!.command).toMatch(
        new RegExp(
          `^/usr/local/libexec/llm-relay/activate-release ${s.stacks.relay.host.buildId} [0-9a-f]{16}$`,
        ),
      );
      expect(init.relay.files['/usr/local/libexec/llm-relay/activate-release']).toMatchObject({
        owner: 'root',
        mode: '000700',
      });
    });

    it('runs the relay under systemd as an unprivileged user, restarting always, from the live release', () => {
      const unit = file(instanceOf(s).init, '/etc/systemd/system/llm-relay.service');
      expect(unit).toContain('User=llm-relay\n');
      expect(unit).toContain('Restart=always\n');
      // ...without systemd's default start limit, which would stop restarting after 5 fast failures.
      expect(unit).toMatch(/^\[Unit\][^[]*^StartLimitIntervalSec=0$/m);
      expect(unit).toContain(
        `ExecStart=/usr/bin/node-${PINNED_NODE_MAJOR} --max-semi-space-size=8 --no-async-context-frame /opt/llm-relay/current/server.mjs\n`,
      );
      // A start that cannot exec node fails `systemctl start`, hence cfn-init and the signal.
      expect(unit).toContain('Type=exec\n');
      expect(unit).toContain('Environment=PORT=8787\n');
      // Fewer malloc arenas: a lower peak RSS (node-flags.ts).
      expect(unit).toContain('Environment=MALLOC_ARENA_MAX=2\n');
      expect(unit).toContain('Environment=RELAY_CONFIG=/etc/llm-relay/relay.config.json\n');
      expect(unit).toContain('Environment=RELAY_DATA_DIR=/var/lib/llm-relay\n');
      expect(unit).toContain('StandardOutput=append:/var/log/llm-relay/relay.log\n');
      expect(unit).toContain('ExecStartPre=+/usr/local/libexec/llm-relay/fetch-secrets\n');
      // Optional: systemd reads it before ExecStartPre too, and only the fetch creates it.
      expect(unit).toContain('EnvironmentFile=-/etc/llm-relay/relay.env\n');
      // Never on an empty directory of the root volume if the data volume failed to mount.
      expect(unit).toContain('RequiresMountsFor=/var/lib/llm-relay\n');
      const { init } = instanceOf(s);
      // Restarts are activate-release's (health-checked); cfn-init only keeps it enabled.
      expect(init.relay.services.systemd['llm-relay']).toEqual({
        enabled: true,
        ensureRunning: true,
      });
    });

    it("gives the relay's drain time to finish before systemd's SIGKILL", () => {
      const stopAfter = (x: Synthesized) =>
        Number(
          /^TimeoutStopSec=(\d+)$/m.exec(
            file(instanceOf(x).init, '/etc/systemd/system/llm-relay.service'),
          )?.[1],
        );
      // shutdownGraceMs 30 s by default, plus the cluster primary's own 5 s backstop.
      expect(stopAfter(s)).toBeGreaterThanOrEqual(30 + 5 + 5);
      const longer = synth({ context: { relayConfig: { server: { shutdownGraceMs: 90_000 } } } });
      expect(stopAfter(longer)).toBeGreaterThanOrEqual(90 + 5 + 5);
    });

    it('writes the relay config: operator channels kept, images on S3, origin secret from env', () => {
      const { init } = instanceOf(s);
      const f = init.relay.files['/etc/llm-relay/relay.config.json']!;
      expect(f).toMatchObject({ owner: 'root', group: 'llm-relay', mode: '000640' });
      const config = JSON.parse(
        file(init, '/etc/llm-relay/relay.config.json').replaceAll(
          /<import:[^>]+>/g,
          'relay-bucket',
        ),
      ) as Record<string, unknown>;
      expect(config).toEqual({
        channels: [
          {
            name: 'deepseek',
            type: 'openai',
            baseUrl: 'https://api.deepseek.com/v1',
            apiKey: 'env:DEEPSEEK_API_KEY',
            models: ['deepseek-chat'],
          },
        ],
        prices: { 'deepseek-chat': { input: 0.27, output: 1.1 } },
        server: {
          originSecret: 'env:RELAY_ORIGIN_SECRET',
          publicBaseUrl: 'https://api.example.com',
          // CloudFront's 60 s read timeout less the margin: see non-stream-budget.test.ts.
          nonStreamBudgetMs: 55_000,
          // The corsOrigins context (cdk.json: "*") as the default.
          corsOrigins: ['*'],
        },
        images: { store: 's3', bucket: 'relay-bucket', region: 'us-east-1', prefix: 'images/' },
        backup: { bucket: 'relay-bucket', region: 'us-east-1', prefix: 'backups/sqlite/' },
      });
      expect(file(init, '/etc/llm-relay/relay.config.json')).toMatch(
        /<import:LlmRelay-Stateful:ExportsOutputRefImagesBucket/,
      );
      // What the host gets is what the relay accepts.
      expect(relayConfigSchema.safeParse(config).success).toBe(true);
    });

    it('fetches provider keys and the origin secret at service start into a root-only file', () => {
      const { init } = instanceOf(s);
      expect(init.relay.files['/usr/local/libexec/llm-relay/fetch-secrets']).toMatchObject({
        owner: 'root',
        mode: '000700',
      });
      const script = file(init, '/usr/local/libexec/llm-relay/fetch-secrets');
      const secret = onlyResource(s.relay, 'AWS::SecretsManager::Secret');
      expect(script).toContain(`--secret-id '<${secret.logicalId}>'`);
      expect(script).toContain("--path '/llm-relay/env/'");
      expect(script).toContain('--with-decryption');
      expect(script).toContain('umask 077');
      expect(script).toContain('chmod 0600');
      expect(script).toContain("out='/etc/llm-relay/relay.env'");
    });

    it("keeps cfn-hup polling every minute with a hook on this instance's Init metadata", () => {
      const { init, logicalId } = instanceOf(s);
      expect(file(init, '/etc/cfn/cfn-hup.conf')).toContain('interval=1\n');
      expect(file(init, '/etc/cfn/cfn-hup.conf')).toContain('stack=LlmRelay-Relay\n');
      const hook = file(init, '/etc/cfn/hooks.d/cfn-auto-reloader.conf');
      expect(hook).toContain(`path=Resources.${logicalId}.Metadata.AWS::CloudFormation::Init\n`);
      expect(hook).toContain(
        `action=/opt/aws/bin/cfn-init -v --stack LlmRelay-Relay --resource ${logicalId} --configsets default --region us-east-1\n`,
      );
      expect(init.relay.services.systemd['cfn-hup']).toMatchObject({
        enabled: true,
        ensureRunning: true,
      });
    });

    it('rotates the relay log', () => {
      const rotate = file(instanceOf(s).init, '/etc/logrotate.d/llm-relay');
      expect(rotate).toMatch(/^\/var\/log\/llm-relay\/\*\.log \{/);
      expect(rotate).toContain('copytruncate');
    });

    it('starts the CloudWatch agent from its SSM parameter', () => {
      const { init } = instanceOf(s);
      const cmd = init.relay.commands['20-cloudwatch-agent']!;
      expect(cmd.command).toContain(
        'amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c ssm:AmazonCloudWatch-LlmRelay-Relay-relay',
      );
      expect(cmd.env?.AGENT_CONFIG_SHA256).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('CloudWatch agent config', () => {
    const agentConfig = () => {
      const p = resourceNamed(s.relay, 'AWS::SSM::Parameter', 'HostAgentConfig').resource
        .Properties!;
      return { name: p.Name, config: JSON.parse(joined(p.Value)) as AgentConfig };
    };

    it('lives in an SSM parameter named AmazonCloudWatch-… so the managed policy can read it', () => {
      expect(agentConfig().name).toMatch(/^AmazonCloudWatch-/);
    });

    it('collects mem_used_percent and root and data disk used_percent every 60 s with InstanceId', () => {
      const { config } = agentConfig();
      expect(config.metrics.append_dimensions).toEqual({ InstanceId: '${aws:InstanceId}' });
      expect(config.metrics.metrics_collected.mem).toEqual({
        measurement: ['mem_used_percent'],
        metrics_collection_interval: 60,
      });
      expect(config.metrics.metrics_collected.disk).toMatchObject({
        measurement: ['used_percent'],
        resources: ['/', '/var/lib/llm-relay'],
        drop_device: true,
        metrics_collection_interval: 60,
      });
    });

    it('ships the relay log file to the relay log group', () => {
      const { config } = agentConfig();
      expect(config.logs.logs_collected.files.collect_list).toEqual([
        {
          file_path: '/var/log/llm-relay/relay.log',
          log_group_name: '/llm-relay/relay',
          log_stream_name: '{instance_id}',
          timezone: 'UTC',
        },
      ]);
    });
  });

  describe('updates in place', () => {
    const variants = () => {
      const base = synth({ bundleDir: fakeBundle('a') });
      const newCode = synth({ bundleDir: fakeBundle('b') });
      const newConfig = synth({
        bundleDir: fakeBundle('a'),
        context: { relayConfig: { prices: { 'gpt-4o': { input: 2.5, output: 10 } } } },
      });
      return [base, newCode, newConfig];
    };

    /**
     * The relay stack's template with the instance's Init metadata taken out, and the output that
     * names the build (an output is no resource: changing it replaces nothing).
     */
    const withoutInit = (s: Synthesized) => {
      const json = structuredClone(s.relay.toJSON()) as {
        Resources: Record<string, { Metadata?: Record<string, unknown> }>;
        Outputs: Record<string, unknown>;
      };
      const { logicalId } = instanceOf(s);
      delete json.Resources[logicalId]!.Metadata!['AWS::CloudFormation::Init'];
      delete json.Outputs.RelayBuild;
      return json;
    };

    it('a new bundle or relay config changes only the Init metadata: nothing cfn-hup cannot apply', () => {
      const [base, newCode, newConfig] = variants();
      for (const changed of [newCode!, newConfig!]) {
        // Every other resource and property, the instance's UserData, LaunchTemplate and
        // CreationPolicy included, is byte for byte the same: CloudFormation updates only metadata.
        expect(withoutInit(changed)).toEqual(withoutInit(base!));
        expect(instanceOf(changed).init).not.toEqual(instanceOf(base!).init);
      }
      expect(instanceOf(newCode!).init.relay.sources).not.toEqual(
        instanceOf(base!).init.relay.sources,
      );
      expect(file(instanceOf(newConfig!).init, '/etc/llm-relay/relay.config.json')).not.toBe(
        file(instanceOf(base!).init, '/etc/llm-relay/relay.config.json'),
      );
    });

    it('an agent config change reaches the host through the Init metadata, not a new instance', () => {
      const base = synth();
      const changed = synth({ context: { logGroupName: '/acme/relay' } });
      const agentCommand = (x: Synthesized) =>
        instanceOf(x).init.relay.commands['20-cloudwatch-agent']!;
      expect(agentCommand(changed).env).not.toEqual(agentCommand(base).env);
      const instance = (x: Synthesized) => {
        const { logicalId, resource } = instanceOf(x);
        const copy = structuredClone(resource) as { Metadata?: Record<string, unknown> };
        delete copy.Metadata!['AWS::CloudFormation::Init'];
        return { logicalId, copy };
      };
      expect(instance(changed)).toEqual(instance(base));
    });

    it('the instance keeps the plain logical id: user data does not salt it (userDataCausesReplacement off)', () => {
      const { logicalId } = instanceOf(synth());
      expect(logicalId).toMatch(/^HostInstance[0-9A-F]{8}$/);
    });

    it('user data carries no fingerprint of the config', () => {
      const [base] = variants().map(instanceOf);
      const userData = joined((base!.props.UserData as { 'Fn::Base64': unknown })['Fn::Base64']);
      expect(userData).toContain('/opt/aws/bin/cfn-init -v');
      expect(userData).not.toMatch(/[0-9a-f]{16}/);
    });
  });
});
