/**
 * Fleet mode (`-c fleet=true`, issue 16): hosts in an Auto Scaling group across zones behind an
 * internal load balancer that CloudFront reaches through a VPC origin, state in the DynamoDB tables
 * of the fleet contract, IAM limited to them. The single host stays the default (snapshot.test.ts
 * pins its templates).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeployConfigError, readDeployConfig } from '../../lib/config.ts';
import { fleetTableNames } from '../../lib/constructs/fleet-tables.ts';
import { CDK_JSON_CONTEXT, joined, onlyResource, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

type Json = Record<string, unknown>;

/** The tables exactly as the fleet contract (section 3) fixes them, with the default prefix. */
const CONTRACT_TABLES = {
  keys: 'llm-relay-keys',
  usage: 'llm-relay-usage',
  rate: 'llm-relay-rate',
  admin: 'llm-relay-admin',
};
const CONTRACT_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:TransactWriteItems',
  'dynamodb:TransactGetItems',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Scan',
  'dynamodb:DescribeTable',
];

const BEDROCK_CHANNEL = {
  name: 'bedrock',
  type: 'bedrock',
  region: 'us-east-1',
  models: ['amazon.nova-pro-v1:0'],
};

function resources(template: Synthesized['relay'], type: string): [string, Json][] {
  return Object.entries(template.findResources(type) as Record<string, Json>);
}

function props(resource: Json): Json {
  return resource.Properties as Json;
}

/** Every statement of the fleet role's inline policy, resources flattened to text. */
function roleStatements(s: Synthesized): { actions: string[]; resources: string[] }[] {
  const [, policy] = resources(s.relay, 'AWS::IAM::Policy').find(([id]) =>
    id.startsWith('FleetRole'),
  )!;
  const doc = props(policy).PolicyDocument as {
    Statement: { Action: unknown; Resource: unknown }[];
  };
  return doc.Statement.map((st) => ({
    actions: [st.Action].flat() as string[],
    resources: [st.Resource].flat().map(joined),
  }));
}

/** The relay config the fleet hosts' bootstrap writes. */
function hostRelayConfig(relay: Synthesized['relay']): Json {
  const { resource } = onlyResource(relay, 'AWS::AutoScaling::AutoScalingGroup');
  const init = (resource.Metadata as Json)['AWS::CloudFormation::Init'] as Record<string, Json>;
  const file = (init.relay!.files as Record<string, Json>)['/etc/llm-relay/relay.config.json']!;
  return JSON.parse(joined(file.content)) as Json;
}

describe('fleet mode', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      context: {
        fleet: true,
        relayConfig: {
          server: { shutdownGraceMs: 45_000 },
          channels: [BEDROCK_CHANNEL],
          // Meaningless without a SQLite file: left out of the hosts' config.
          backup: { bucket: 'elsewhere', region: 'us-east-1', intervalMinutes: 30 },
        },
      },
    });
  });

  describe('DynamoDB tables (Stateful stack)', () => {
    it('are the four tables of the contract, named by the prefix', () => {
      expect(fleetTableNames('llm-relay-')).toEqual(CONTRACT_TABLES);
      const names = resources(s.stateful, 'AWS::DynamoDB::Table').map(
        ([, t]) => props(t).TableName,
      );
      expect(names.sort()).toEqual(Object.values(CONTRACT_TABLES).sort());
    });

    it('share one key schema and TTL, on demand, with PITR and deletion protection, retained', () => {
      for (const [id, table] of resources(s.stateful, 'AWS::DynamoDB::Table')) {
        expect(table.DeletionPolicy, id).toBe('Retain');
        expect(table.UpdateReplacePolicy, id).toBe('Retain');
        const p = props(table);
        expect(p.KeySchema, id).toEqual([
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ]);
        expect(p.AttributeDefinitions, id).toEqual(
          expect.arrayContaining([
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ]),
        );
        expect(p.BillingMode, id).toBe('PAY_PER_REQUEST');
        expect(p.PointInTimeRecoverySpecification, id).toEqual({
          PointInTimeRecoveryEnabled: true,
        });
        expect(p.DeletionProtectionEnabled, id).toBe(true);
        expect(p.TimeToLiveSpecification, id).toEqual({
          AttributeName: 'expiresAt',
          Enabled: true,
        });
        expect(p.StreamSpecification, id).toBeUndefined();
        // Encrypted at rest with an AWS-owned key (SSEEnabled false means exactly that).
        expect((p.SSESpecification as Json | undefined)?.SSEEnabled ?? false, id).toBe(false);
      }
    });

    it('give only the usage table an index: gsi1 over gsi1pk/gsi1sk, all attributes', () => {
      const byName = Object.fromEntries(
        resources(s.stateful, 'AWS::DynamoDB::Table').map(([, t]) => [
          props(t).TableName,
          props(t),
        ]),
      );
      expect(byName['llm-relay-usage']!.GlobalSecondaryIndexes).toEqual([
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]);
      for (const name of ['llm-relay-keys', 'llm-relay-rate', 'llm-relay-admin']) {
        expect(byName[name]!.GlobalSecondaryIndexes, name).toBeUndefined();
      }
    });

    it('follow fleetTablePrefix', () => {
      const other = synth({ context: { fleet: true, fleetTablePrefix: 'acme-relay.' } });
      const names = resources(other.stateful, 'AWS::DynamoDB::Table').map(
        ([, t]) => props(t).TableName,
      );
      expect(names.sort()).toEqual([
        'acme-relay.admin',
        'acme-relay.keys',
        'acme-relay.rate',
        'acme-relay.usage',
      ]);
      const config = JSON.stringify(
        onlyResource(other.relay, 'AWS::AutoScaling::AutoScalingGroup').resource.Metadata,
      );
      expect(config).toContain('\\"tablePrefix\\": \\"acme-relay.\\"');
    });
  });

  describe('hosts', () => {
    it('are an Auto Scaling group in two private subnets, 2/4/2 by default, ELB health checks', () => {
      const { resource } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      const p = props(resource);
      expect([p.MinSize, p.MaxSize, p.DesiredCapacity]).toEqual(['2', '4', '2']);
      expect(p.HealthCheckType).toBe('ELB');
      // Long enough for the bootstrap (dnf installs Node.js and the agent) before the first check.
      expect(p.HealthCheckGracePeriod).toBe(600);
      const subnets = p.VPCZoneIdentifier as { Ref: string }[];
      expect(subnets).toHaveLength(2);
      const zones = subnets.map((ref) => {
        const subnet = s.relay.toJSON().Resources[ref.Ref] as Json;
        expect(props(subnet).MapPublicIpOnLaunch).toBe(false);
        return JSON.stringify(props(subnet).AvailabilityZone);
      });
      expect(new Set(zones).size).toBe(2);
    });

    it('leave each zone through its own NAT gateway, so losing one zone leaves the others online', () => {
      const json = s.relay.toJSON() as { Resources: Record<string, Json> };
      const nats = resources(s.relay, 'AWS::EC2::NatGateway');
      expect(nats).toHaveLength(2);
      const zoneOf = (subnetRef: unknown) =>
        JSON.stringify(props(json.Resources[(subnetRef as { Ref: string }).Ref]!).AvailabilityZone);
      const natZone = new Map(nats.map(([id, nat]) => [id, zoneOf(props(nat).SubnetId)]));
      const { resource: group } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      const hostSubnets = (props(group).VPCZoneIdentifier as { Ref: string }[]).map((r) => r.Ref);
      const defaultRoutes = resources(s.relay, 'AWS::EC2::Route').filter(
        ([, r]) => props(r).DestinationCidrBlock === '0.0.0.0/0' && props(r).NatGatewayId,
      );
      const associations = resources(s.relay, 'AWS::EC2::SubnetRouteTableAssociation');
      for (const subnet of hostSubnets) {
        const [, assoc] = associations.find(
          ([, a]) => joined(props(a).SubnetId) === `<${subnet}>`,
        )!;
        const table = joined(props(assoc).RouteTableId);
        const [, route] = defaultRoutes.find(([, r]) => joined(props(r).RouteTableId) === table)!;
        const nat = (props(route).NatGatewayId as { Ref: string }).Ref;
        expect(natZone.get(nat), subnet).toBe(zoneOf({ Ref: subnet }));
      }
    });

    it('share one NAT gateway with fleetSingleNatGateway (cheaper, one zone for egress)', () => {
      const single = synth({ context: { fleet: true, fleetSingleNatGateway: 'true' } });
      single.relay.resourceCountIs('AWS::EC2::NatGateway', 1);
    });

    it('take min, max, desired, CPU target and zones from context (strings too)', () => {
      const other = synth({
        context: {
          fleet: 'true',
          fleetMinHosts: '3',
          fleetMaxHosts: '6',
          fleetDesiredHosts: '4',
          fleetCpuTargetPercent: '45',
          fleetAvailabilityZones: 'us-east-1b,us-east-1c,us-east-1d',
        },
      });
      const p = props(onlyResource(other.relay, 'AWS::AutoScaling::AutoScalingGroup').resource);
      expect([p.MinSize, p.MaxSize, p.DesiredCapacity]).toEqual(['3', '6', '4']);
      expect(p.VPCZoneIdentifier).toHaveLength(3);
      other.relay.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'us-east-1d' });
      other.relay.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
        TargetTrackingConfiguration: Match.objectLike({ TargetValue: 45 }),
      });
    });

    it('scale by target tracking on average CPU (60 % by default)', () => {
      s.relay.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
          TargetValue: 60,
        },
      });
    });

    it('are replaced by instance refresh, new hosts first, and signal their bootstrap', () => {
      const { resource } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      expect(resource.UpdatePolicy).toMatchObject({
        AutoScalingInstanceRefresh: {
          Strategy: 'Rolling',
          Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200 },
        },
      });
      expect(resource.CreationPolicy).toMatchObject({ ResourceSignal: { Count: 2 } });
      // Replacements outside a deploy (unhealthy host, 14-day lifetime) launch first too.
      expect(props(resource)).toMatchObject({
        InstanceMaintenancePolicy: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200 },
        MaxInstanceLifetime: 14 * 24 * 3600,
      });
      // The bootstrap's fingerprint in the user data: a new bundle or config is a new launch
      // template version, which is what starts the refresh.
      const { logicalId: groupId } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      const lt = props(onlyResource(s.relay, 'AWS::EC2::LaunchTemplate').resource)
        .LaunchTemplateData as Json;
      const userData = joined((lt.UserData as Json)['Fn::Base64']);
      expect(userData).toMatch(/# fingerprint: [0-9a-f]{16}/);
      expect(userData).toContain(
        `cfn-init -v --region <AWS::Region> --stack <AWS::StackName> --resource ${groupId} -c default`,
      );
      expect(userData).toContain(
        `cfn-signal -e $? --region <AWS::Region> --stack <AWS::StackName> --resource ${groupId}`,
      );
      expect(lt).toMatchObject({
        MetadataOptions: { HttpTokens: 'required' },
        Monitoring: { Enabled: true },
      });
      expect(JSON.stringify(lt.BlockDeviceMappings)).toContain('"Encrypted":true');
    });

    it('run the single host bootstrap without cfn-hup, data volume or SQLite backups', () => {
      const { resource } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      const init = (resource.Metadata as Json)['AWS::CloudFormation::Init'] as Record<string, Json>;
      const files = Object.keys({
        ...(init.system!.files as Json),
        ...(init.relay!.files as Json),
      });
      expect(files).toEqual(
        expect.arrayContaining([
          '/etc/llm-relay/relay.config.json',
          '/usr/local/libexec/llm-relay/activate-release',
          '/etc/systemd/system/llm-relay.service',
        ]),
      );
      expect(files.filter((f) => /cfn|mount-data|llm-relay-backup/.test(f))).toEqual([]);
      expect(Object.keys(init.system!.commands as Json)).not.toContain('15-data-volume');
      const services = (init.relay!.services as { systemd: Json }).systemd;
      expect(Object.keys(services)).toEqual(['llm-relay']);
      const config = JSON.parse(
        joined(
          (init.relay!.files as Record<string, Json>)['/etc/llm-relay/relay.config.json']!.content,
        ),
      ) as Json;
      expect(config.store).toEqual({
        type: 'dynamodb',
        tablePrefix: 'llm-relay-',
        region: 'us-east-1',
      });
      expect(config.backup).toBeUndefined();
      expect(hostRelayConfig(s.relay)).toEqual(config);
      // Fails /healthz for two checks' worth before closing on a stop or restart, and systemd
      // waits for that drain delay plus the shutdown grace (45 s here) plus its margin.
      expect(config.server).toMatchObject({ drainDelayMs: 25_000, shutdownGraceMs: 45_000 });
      const unit = joined(
        (init.relay!.files as Record<string, Json>)['/etc/systemd/system/llm-relay.service']!
          .content,
      );
      expect(unit).toContain('TimeoutStopSec=85\n');
      expect(config.images).toMatchObject({ store: 's3', prefix: 'images/' });
      for (const type of [
        'AWS::EC2::Volume',
        'AWS::EC2::Instance',
        'AWS::Backup::BackupPlan',
        'AWS::Backup::BackupSelection',
      ]) {
        s.relay.resourceCountIs(type, 0);
      }
    });

    it("keep the operator's store settings, with the fleet's type, tables and region", () => {
      const other = synth({
        context: {
          fleet: true,
          relayConfig: {
            store: { type: 'sqlite', holdLeaseMs: 600_000 },
            channels: [BEDROCK_CHANNEL],
          },
        },
      });
      expect(hostRelayConfig(other.relay).store).toEqual({
        type: 'dynamodb',
        tablePrefix: 'llm-relay-',
        region: 'us-east-1',
        holdLeaseMs: 600_000,
      });
    });

    it('may reach their tables with the store actions only, and keep Bedrock, images and secrets', () => {
      const statements = roleStatements(s);
      const dynamo = statements.filter((st) => st.actions.some((a) => a.startsWith('dynamodb:')));
      expect(dynamo).toHaveLength(1);
      expect(dynamo[0]!.actions.sort()).toEqual([...CONTRACT_ACTIONS].sort());
      const arn = (name: string) =>
        `arn:<AWS::Partition>:dynamodb:us-east-1:<AWS::AccountId>:table/${name}`;
      const tables = Object.values(CONTRACT_TABLES);
      expect(dynamo[0]!.resources.sort()).toEqual(
        [...tables.map(arn), ...tables.map((t) => `${arn(t)}/index/*`)].sort(),
      );
      expect(statements.some((st) => st.actions.some((a) => a.startsWith('bedrock:')))).toBe(true);
      expect(statements.some((st) => st.actions.includes('secretsmanager:GetSecretValue'))).toBe(
        true,
      );
      expect(statements.some((st) => st.actions.includes('ssm:GetParametersByPath'))).toBe(true);
      // The image writer policy, not the SQLite backup policy (a fleet has no database file).
      const role = props(
        resources(s.relay, 'AWS::IAM::Role').find(([id]) => id.startsWith('FleetRole'))![1],
      );
      const managed = JSON.stringify(role.ManagedPolicyArns);
      expect(managed).toContain('AmazonSSMManagedInstanceCore');
      expect(managed).toContain('CloudWatchAgentServerPolicy');
      expect(managed).toMatch(/ImagesWriter/);
      expect(managed).not.toMatch(/Backup/);
    });
  });

  describe('ops access', () => {
    it('opens unprivileged shells only on instances the group tagged as fleet hosts', () => {
      const { resource } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      expect(props(resource).Tags).toEqual(
        expect.arrayContaining([
          { Key: 'llm-relay:host', Value: 'fleet', PropagateAtLaunch: true },
        ]),
      );
      const policy = props(onlyResource(s.relay, 'AWS::IAM::ManagedPolicy').resource)
        .PolicyDocument as { Statement: Json[] };
      const shells = policy.Statement.filter((st) => st.Action === 'ssm:StartSession');
      expect(shells).toHaveLength(2);
      const onHosts = shells.find((st) => st.Sid === 'ShellOnTheRelayHosts')!;
      expect(joined(onHosts.Resource)).toMatch(/:instance\/\*$/);
      expect(onHosts.Condition).toEqual({
        BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' },
        StringEquals: { 'ssm:resourceTag/llm-relay:host': 'fleet' },
      });
      const document = shells.find((st) => st.Sid === 'WithTheOpsSessionDocument')!;
      expect(joined(document.Resource)).toMatch(/:document\/<OpsSession\w+>$/);
      expect(Object.keys(s.relay.toJSON().Outputs as Json)).toEqual(
        expect.arrayContaining(['OpsReadOnlyPolicyArn', 'OpsSessionDocument']),
      );
    });
  });

  describe('load balancer and edge', () => {
    it('is internal, in the private subnets, idle timeout = origin read timeout', () => {
      const p = props(onlyResource(s.relay, 'AWS::ElasticLoadBalancingV2::LoadBalancer').resource);
      expect(p.Scheme).toBe('internal');
      expect(p.Subnets).toEqual(
        props(onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup').resource)
          .VPCZoneIdentifier,
      );
      expect(p.LoadBalancerAttributes).toEqual(
        expect.arrayContaining([{ Key: 'idle_timeout.timeout_seconds', Value: '60' }]),
      );
    });

    it("keeps the client's X-Forwarded-For as it came from CloudFront (admin login throttle by client)", () => {
      // With the default (append) the relay, which reads the last entry, would see CloudFront's
      // VPC-origin address for every client.
      const p = props(onlyResource(s.relay, 'AWS::ElasticLoadBalancingV2::LoadBalancer').resource);
      expect(p.LoadBalancerAttributes).toEqual(
        expect.arrayContaining([
          { Key: 'routing.http.xff_header_processing.mode', Value: 'preserve' },
        ]),
      );
    });

    it('checks /healthz and drains a leaving host for the relay shutdown grace', () => {
      const p = props(onlyResource(s.relay, 'AWS::ElasticLoadBalancingV2::TargetGroup').resource);
      expect(p).toMatchObject({
        HealthCheckPath: '/healthz',
        Port: 8787,
        Protocol: 'HTTP',
        Matcher: { HttpCode: '200' },
        HealthyThresholdCount: 2,
      });
      // relayConfig.server.shutdownGraceMs is 45 000 here.
      expect(p.TargetGroupAttributes).toEqual(
        expect.arrayContaining([{ Key: 'deregistration_delay.timeout_seconds', Value: '45' }]),
      );
    });

    it('refuses a shutdown grace longer than the load balancer can wait (3600 s)', () => {
      expect(() =>
        synth({
          context: { fleet: true, relayConfig: { server: { shutdownGraceMs: 3_601_000 } } },
        }),
      ).toThrow(/shutdownGraceMs.*3600/);
    });

    it("is CloudFront's VPC origin, with the origin secret header", () => {
      const { logicalId: albId } = onlyResource(
        s.relay,
        'AWS::ElasticLoadBalancingV2::LoadBalancer',
      );
      const vpcOrigin = props(onlyResource(s.relay, 'AWS::CloudFront::VpcOrigin').resource)
        .VpcOriginEndpointConfig as Json;
      expect(vpcOrigin).toMatchObject({
        Arn: { Ref: albId },
        HTTPPort: 80,
        OriginProtocolPolicy: 'http-only',
      });
      const dist = props(onlyResource(s.relay, 'AWS::CloudFront::Distribution').resource)
        .DistributionConfig as { Origins: Json[] };
      const relayOrigin = dist.Origins.find((o) => 'VpcOriginConfig' in o)!;
      const headers = relayOrigin.OriginCustomHeaders as {
        HeaderName: string;
        HeaderValue: unknown;
      }[];
      expect(headers.map((h) => h.HeaderName)).toEqual(['x-origin-secret']);
      // A dynamic reference: the secret itself is never in the template.
      expect(joined(headers[0]!.HeaderValue)).toMatch(
        /^\{\{resolve:secretsmanager:<OriginSecret\w+>:SecretString:::\}\}$/,
      );
    });

    it('admits only the VPC origin subnets on the balancer and only the balancer on the hosts', () => {
      const json = s.relay.toJSON() as { Resources: Record<string, Json> };
      const groupId = (prefix: string) =>
        Object.keys(json.Resources).find(
          (id) => id.startsWith(prefix) && json.Resources[id]!.Type === 'AWS::EC2::SecurityGroup',
        )!;
      const lbGroup = groupId('FleetLoadBalancerSecurityGroup');
      const hostGroup = groupId('FleetHostSecurityGroup');
      const ingress = resources(s.relay, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => props(r));
      const toLb = ingress.filter((r) => JSON.stringify(r.GroupId).includes(lbGroup));
      const { resource: group } = onlyResource(s.relay, 'AWS::AutoScaling::AutoScalingGroup');
      const privateRanges = (props(group).VPCZoneIdentifier as { Ref: string }[]).map(
        (ref) => props(json.Resources[ref.Ref]!).CidrBlock,
      );
      expect(toLb.map((r) => r.CidrIp).sort()).toEqual(privateRanges.sort());
      for (const rule of toLb) {
        expect(rule).toMatchObject({ FromPort: 80, ToPort: 80, IpProtocol: 'tcp' });
      }
      const toHosts = ingress.filter((r) => JSON.stringify(r.GroupId).includes(hostGroup));
      expect(toHosts).toEqual([
        expect.objectContaining({
          FromPort: 8787,
          ToPort: 8787,
          SourceSecurityGroupId: { 'Fn::GetAtt': [lbGroup, 'GroupId'] },
        }),
      ]);
      // Inline rules of the groups: none from anywhere.
      for (const [, group] of resources(s.relay, 'AWS::EC2::SecurityGroup')) {
        expect(props(group).SecurityGroupIngress).toBeUndefined();
      }
    });

    it('routes S3 and DynamoDB through free gateway endpoints, not the NAT gateway', () => {
      const endpoints = resources(s.relay, 'AWS::EC2::VPCEndpoint').map(([, e]) =>
        joined(props(e).ServiceName),
      );
      expect(endpoints.sort()).toEqual([
        'com.amazonaws.<AWS::Region>.dynamodb',
        'com.amazonaws.<AWS::Region>.s3',
      ]);
    });
  });

  describe('monitoring', () => {
    it('has per-host, load balancer and per-table panels', () => {
      const body = joined(
        props(onlyResource(s.monitoring, 'AWS::CloudWatch::Dashboard').resource).DashboardBody,
      );
      for (const text of [
        'cpu_usage_active',
        'mem_used_percent',
        'GroupInServiceInstances',
        'HTTPCode_ELB_5XX_Count',
        'HTTPCode_Target_5XX_Count',
        'TargetResponseTime',
        'HealthyHostCount',
        'ReadThrottleEvents',
        'ConsumedWriteCapacityUnits',
        'ConditionalCheckFailedRequests',
        'Ledger conflicts',
        'SystemErrors',
        ...Object.values(CONTRACT_TABLES),
      ]) {
        expect(body, text).toContain(text);
      }
      // The single host's instance and data-volume panels have no meaning here.
      expect(body).not.toContain('data volume (SQLite)');
    });

    it('alarms on too few healthy hosts and on throttles of every table, not on one instance', () => {
      const alarms = resources(s.monitoring, 'AWS::CloudWatch::Alarm').map(([id, a]) => ({
        id,
        p: props(a),
      }));
      // A booting host (deploy, scale-out) is "unhealthy" at the balancer for minutes: only
      // fewer healthy hosts than fleetMinHosts, for longer than a replacement takes, is a fault.
      expect(alarms.filter((a) => a.id.includes('FleetUnhealthyHosts'))).toEqual([]);
      expect(JSON.stringify(alarms)).not.toContain('UnHealthyHostCount');
      const below = alarms.find((a) => a.id.includes('FleetBelowMinHosts'))!;
      const healthyEachMinute = {
        MetricStat: expect.objectContaining({
          Metric: expect.objectContaining({ MetricName: 'HealthyHostCount' }),
          Period: 60,
          Stat: 'Minimum',
        }),
      };
      expect(below.p).toMatchObject({
        Threshold: 2,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 15,
        DatapointsToAlarm: 15,
        Metrics: [expect.objectContaining(healthyEachMinute)],
      });
      const none = alarms.find((a) => a.id.includes('FleetNoHealthyHost'))!;
      expect(none.p).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 2,
        Metrics: [expect.objectContaining(healthyEachMinute)],
      });
      const three = synth({ context: { fleet: true, fleetMinHosts: 3, fleetDesiredHosts: 3 } });
      three.monitoring.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: Match.stringLikeRegexp('fleetMinHosts \\(3\\)'),
        Threshold: 3,
      });
      const disk = alarms.find((a) => a.id.includes('FleetHostRootDiskUsed'))!;
      expect(JSON.stringify(disk.p)).toContain('"MetricName":"disk_used_percent"');
      const usage = alarms.find((a) => a.id.includes('TableThrottlesUsage'))!;
      expect(JSON.stringify(usage.p)).toContain('"GlobalSecondaryIndexName","Value":"gsi1"');
      const throttles = alarms.filter((a) => a.id.includes('TableThrottles'));
      expect(throttles).toHaveLength(4);
      for (const name of Object.values(CONTRACT_TABLES)) {
        expect(JSON.stringify(throttles.map((a) => a.p.Metrics))).toContain(name);
      }
      expect(
        alarms.filter((a) => /Host(SystemStatus|InstanceStatus|DataDiskUsed)|Backup/.test(a.id)),
      ).toEqual([]);
      expect(Object.keys(s.monitoring.toJSON().Parameters as Json)).not.toContain('InstanceId');
    });
  });

  it('synthesizes with zero unacknowledged cdk-nag findings', () => {
    const n = synth({ context: { fleet: true }, nag: true });
    expect(() => n.app.synth({ force: true })).not.toThrow();
  });
});

describe('fleet settings', () => {
  const read = (overrides: Record<string, unknown>) =>
    readDeployConfig((key) => ({ ...CDK_JSON_CONTEXT, ...overrides })[key], {});
  const failure = (overrides: Record<string, unknown>): string => {
    try {
      read(overrides);
    } catch (error) {
      expect(error).toBeInstanceOf(DeployConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a DeployConfigError');
  };

  it('are off by default: one host', () => {
    expect(read({}).fleet).toBeUndefined();
  });

  it('default to 2/4/2 hosts, 60 % CPU and the llm-relay- tables', () => {
    expect(read({ fleet: 'true' }).fleet).toEqual({
      minHosts: 2,
      maxHosts: 4,
      desiredHosts: 2,
      cpuTargetPercent: 60,
      availabilityZones: undefined,
      tablePrefix: 'llm-relay-',
      singleNatGateway: false,
    });
  });

  it.each([
    [{ fleetMinHosts: 5 }, /"fleetMinHosts": must not exceed fleetMaxHosts \(4\)/],
    [
      { fleetDesiredHosts: 9 },
      /"fleetDesiredHosts": must be between fleetMinHosts \(2\) and fleetMaxHosts \(4\)/,
    ],
    [{ originType: 'public-dns' }, /"originType": must be vpc-origin with fleet=true/],
    [
      { availabilityZone: 'us-east-1b' },
      /"availabilityZone": .*set fleetAvailabilityZones instead/,
    ],
    [
      { fleetAvailabilityZones: 'us-east-1a' },
      /"fleetAvailabilityZones": must name at least two zones/,
    ],
    [
      { fleetAvailabilityZones: 'us-east-1a,eu-west-1b' },
      /eu-west-1b is not a zone of region us-east-1/,
    ],
    [
      { originReadTimeoutSeconds: 120 },
      /"originReadTimeoutSeconds": must be at most 60 with fleet=true/,
    ],
    [{ fleetTablePrefix: 'bad prefix!' }, /"fleetTablePrefix": must be letters, digits/],
  ])('refuse %j with a message naming the key', (overrides, message) => {
    expect(failure({ fleet: true, ...overrides })).toMatch(message);
  });

  it('leave the single host settings alone when fleet is off', () => {
    expect(read({ originType: 'public-dns', fleetMinHosts: 9 }).fleet).toBeUndefined();
  });
});
