import { Annotations, Arn, Duration, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { bundleBuildId } from '../../app/src/build-info.ts';
import { relayConfigSchema } from '../../app/src/config.ts';
import { acknowledgeWildcardResource } from '../nag.ts';
import { fleetTableNames } from './fleet-tables.ts';
import {
  acknowledgeAssetRead,
  acknowledgeHostManagedPolicies,
  agentConfigParameterName,
  grantRelayHostAccess,
} from './relay-host.ts';
import { cloudWatchAgentConfig } from './relay-host-files.ts';
import { CONFIG_SETS, relayHostInit } from './relay-init.ts';
import type { RelayInitProps } from './relay-init.ts';

/** What the relay's DynamoDB store calls (fleet contract, section 3), and nothing else. */
export const FLEET_TABLE_ACTIONS = [
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
] as const;

/** The tag every fleet host carries from launch: ops shells may open on these instances only. */
export const FLEET_HOST_TAG = { key: 'llm-relay:host', value: 'fleet' } as const;

/** The longest deregistration delay a target group accepts (3600 s). */
const MAX_DEREGISTRATION_DELAY_MS = 3_600_000;

/** Port of the load balancer's listener; CloudFront's VPC origin connects to it. */
export const FLEET_LISTENER_PORT = 80;

export interface RelayFleetProps extends Omit<RelayInitProps, 'deployNonce'> {
  readonly vpc: ec2.IVpc;
  /** Private subnets in two or more zones: hosts and the internal load balancer. */
  readonly subnets: readonly ec2.ISubnet[];
  /** @default '/llm-relay' */
  readonly ssmPrefix?: string;
  /** @default 't4g.small' */
  readonly instanceType?: string;
  /** @default 'arm64' */
  readonly architecture?: 'arm64' | 'x86_64';
  /** @default 8787 */
  readonly port?: number;
  /** @default 20 */
  readonly rootVolumeGiB?: number;
  /** @default 2 */
  readonly minHosts?: number;
  /** @default 4 */
  readonly maxHosts?: number;
  /** @default 2 */
  readonly desiredHosts?: number;
  /** Average CPU the group scales to hold. @default 60 */
  readonly cpuTargetPercent?: number;
  /** The shared DynamoDB tables' prefix (see FleetTables). @default 'llm-relay-' */
  readonly tablePrefix?: string;
}

/**
 * Relay hosts in an Auto Scaling group across zones, behind an internal Application Load
 * Balancer, with the single host's bootstrap (CloudFormation Init, activate-release) and the
 * state in DynamoDB. A new bundle or config changes the launch template (the Init fingerprint is
 * in its user data), and CloudFormation replaces the hosts by instance refresh: new ones first,
 * healthy on /healthz, then the old ones leave the target group (after the deregistration delay,
 * which lets their requests finish) and are terminated.
 */
export class RelayFleet extends Construct {
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The load balancer's group: CloudFront's VPC origin is admitted here. */
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  readonly hostSecurityGroup: ec2.SecurityGroup;
  readonly role: iam.Role;
  readonly agentConfigParameter: ssm.StringParameter;
  readonly port: number;
  /** Id of the bundle shipped with this synth: its release directory and what /healthz reports. */
  readonly buildId: string;

  constructor(scope: Construct, id: string, props: RelayFleetProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const port = props.port ?? 8787;
    const ssmPrefix = props.ssmPrefix ?? '/llm-relay';
    const tablePrefix = props.tablePrefix ?? 'llm-relay-';
    const readTimeout = props.originReadTimeout ?? Duration.seconds(60);
    const server = relayConfigSchema.parse(props.relayConfig ?? {}).server;
    if (server.shutdownGraceMs > MAX_DEREGISTRATION_DELAY_MS) {
      // The deregistration delay follows it, and the load balancer waits at most an hour; a
      // silent cap would cut streams the operator meant to keep.
      throw new Error(
        `relayConfig.server.shutdownGraceMs (${server.shutdownGraceMs}) must be at most ${MAX_DEREGISTRATION_DELAY_MS} with fleet=true: the load balancer's deregistration delay follows it and cannot exceed 3600 s`,
      );
    }
    this.port = port;
    this.buildId = bundleBuildId(props.bundleDir);
    const subnets = { subnets: [...props.subnets] };

    this.hostSecurityGroup = new ec2.SecurityGroup(this, 'HostSecurityGroup', {
      vpc: props.vpc,
      description: `llm-relay fleet hosts: port ${port} from the load balancer only, no SSH`,
      // Providers, dnf, SSM, CloudWatch through the NAT gateway; S3 and DynamoDB by endpoints.
      allowAllOutbound: true,
    });
    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'llm-relay internal load balancer: CloudFront VPC origin only',
      allowAllOutbound: false,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description:
        'llm-relay fleet hosts: SSM sessions, CloudWatch agent, images, relay secrets, the DynamoDB tables',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchAgentServerPolicy'),
      ],
    });
    grantRelayHostAccess(this.role, { ...props, ssmPrefix, backups: false });
    this.grantTables(tablePrefix);

    const agentConfig = cloudWatchAgentConfig({ logGroupName: props.logGroupName, fleet: true });
    const agentParameterName = agentConfigParameterName(stack, 'fleet');
    this.agentConfigParameter = new ssm.StringParameter(this, 'AgentConfig', {
      parameterName: agentParameterName,
      description: 'CloudWatch agent config of the llm-relay fleet hosts',
      stringValue: JSON.stringify(agentConfig),
    });

    const userData = ec2.UserData.forLinux();
    userData.addCommands('dnf install -y aws-cfn-bootstrap');
    const arch = props.architecture ?? 'arm64';
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.resolveSsmParameterAtLaunch(
        `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}`,
        { os: ec2.OperatingSystemType.LINUX, userData },
      ),
      instanceType: new ec2.InstanceType(props.instanceType ?? 't4g.small'),
      userData,
      role: this.role,
      securityGroup: this.hostSecurityGroup,
      requireImdsv2: true,
      // One-minute CPU for the target-tracking policy (basic monitoring reacts in 5-minute steps).
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB ?? 20, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });

    // A new host is healthy once cfn-init has activated the release (its /healthz checked on the
    // host) and the load balancer has seen /healthz answer twice.
    const warmup = Duration.minutes(5);
    // The bootstrap installs Node.js and the agent with dnf before the relay starts: a host failing
    // /healthz before this is still booting, not broken (the cfn-init timeout is 15 minutes).
    const grace = Duration.minutes(10);
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: subnets,
      launchTemplate,
      minCapacity: props.minHosts ?? 2,
      maxCapacity: props.maxHosts ?? 4,
      desiredCapacity: props.desiredHosts ?? 2,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: grace,
      }),
      defaultInstanceWarmup: warmup,
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: Duration.minutes(15) }),
      // Launch the new hosts first (up to twice the group), and keep every old one in service
      // until its replacement is healthy: no capacity dip during a deploy.
      updatePolicy: autoscaling.UpdatePolicy.instanceRefresh({
        strategy: autoscaling.InstanceRefreshStrategy.ROLLING,
        minHealthyPercentage: 100,
        maxHealthyPercentage: 200,
        instanceWarmup: warmup,
      }),
      // Hosts pick up the newest AL2023 image (resolved at launch) at least every two weeks.
      maxInstanceLifetime: Duration.days(14),
      // The same for the group's own replacements (an unhealthy host, the lifetime above): the
      // new host first, so the group never dips below its size.
      minHealthyPercentage: 100,
      maxHealthyPercentage: 200,
      groupMetrics: [autoscaling.GroupMetrics.all()],
    });
    // cfn-init on each host reads the group's metadata and signals the group when the release
    // is live; the fingerprint in user data makes a changed bootstrap a new launch template
    // version, which is what starts the instance refresh.
    const cfnGroup = this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    relayHostInit(stack, props, {
      buildId: this.buildId,
      port,
      ssmPrefix,
      agentConfigParameterName: agentParameterName,
      agentConfig,
      store: { type: 'dynamodb', tablePrefix, region: stack.region },
    }).attach(cfnGroup, {
      platform: ec2.OperatingSystemType.LINUX,
      instanceRole: this.role,
      userData,
      configSets: CONFIG_SETS,
      embedFingerprint: true,
      signalResource: cfnGroup,
    });
    this.autoScalingGroup.node.addDependency(this.agentConfigParameter, this.role);
    for (const subnet of props.subnets) {
      this.autoScalingGroup.node.addDependency(subnet.internetConnectivityEstablished);
    }
    Tags.of(this.autoScalingGroup).add(FLEET_HOST_TAG.key, FLEET_HOST_TAG.value, {
      applyToLaunchedInstances: true,
    });
    const warnings = Annotations.of(this.autoScalingGroup);
    warnings.acknowledgeWarning(
      '@aws-cdk/aws-autoscaling:desiredCapacitySet',
      'CDK sets IgnoreUnmodifiedGroupSizeProperties: a deploy resets the size only when fleetDesiredHosts itself changed.',
    );
    warnings.acknowledgeWarning(
      '@aws-cdk/aws-autoscaling:signalsNotUsedByInstanceRefresh',
      'The signal counts at creation only; during a refresh a host is ready when the load balancer finds /healthz answering (activate-release starts the relay only if /healthz reports its build) and the warm-up has passed.',
    );
    this.autoScalingGroup.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: props.cpuTargetPercent ?? 60,
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: subnets,
      internetFacing: false,
      securityGroup: this.loadBalancerSecurityGroup,
      // A non-streaming answer may take up to the origin read timeout without a byte; a stream
      // sends a heartbeat well within it.
      idleTimeout: readTimeout,
      dropInvalidHeaderFields: true,
      // CloudFront already appended the client's address to X-Forwarded-For. Appending ours (the
      // VPC origin's private address) would make every client look alike to the relay, which
      // takes the last entry (admin login throttling, audit).
      xffHeaderProcessingMode: elbv2.XffHeaderProcessingMode.PRESERVE,
    });
    const listener = this.loadBalancer.addListener('Http', {
      port: FLEET_LISTENER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      // Only CloudFront's VPC origin is admitted (see RelayOrigin), not the world.
      open: false,
    });
    this.targetGroup = listener.addTargets('Relay', {
      port,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.autoScalingGroup],
      healthCheck: {
        path: '/healthz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      // A leaving host gets as long as the relay's own drain (server.shutdownGraceMs) to finish
      // its requests and streams before the group terminates it.
      deregistrationDelay: Duration.seconds(Math.ceil(server.shutdownGraceMs / 1000)),
    });

    this.acknowledgeFindings();
    acknowledgeAssetRead(this.role);
  }

  /** The four tables and their indexes, with exactly the store's actions. */
  private grantTables(tablePrefix: string): void {
    const stack = Stack.of(this);
    const tables = Object.values(fleetTableNames(tablePrefix)).map((name) =>
      Arn.format({ service: 'dynamodb', resource: 'table', resourceName: name }, stack),
    );
    const indexes = tables.map((arn) => `${arn}/index/*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...FLEET_TABLE_ACTIONS],
        resources: [...tables, ...indexes],
      }),
    );
    for (const index of indexes) {
      acknowledgeWildcardResource(
        this.role,
        index,
        "The relay's own tables' secondary indexes (gsi1 on the usage table); the store queries them by name.",
      );
    }
  }

  private acknowledgeFindings(): void {
    const v = Validations.of(this);
    acknowledgeHostManagedPolicies(this);
    v.acknowledge({
      id: 'CloudFormation-Validate::E1152',
      reason:
        'ImageId "resolve:ssm:<parameter>" is resolved by EC2 at launch (documented RunInstances syntax); the linter only knows literal AMI ids.',
    });
    v.acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'An internal load balancer reached only through CloudFront, whose standard logs (the access log bucket) record every request; the relay logs each request with its id too.',
    });
    v.acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        'Scaling and instance-refresh activity is in the group activity history and CloudTrail; the dashboard shows the group size.',
    });
  }
}
