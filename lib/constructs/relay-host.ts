import { Arn, Duration, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { bundleBuildId } from '../../app/src/build-info.ts';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from '../nag.ts';
import { DataVolume } from './data-volume.ts';
import type { ImageBucket } from './image-bucket.ts';
import { cloudWatchAgentConfig } from './relay-host-files.ts';
import { CONFIG_SETS, relayHostInit } from './relay-init.ts';
import type { RelayInitProps } from './relay-init.ts';
import { grantBedrockInvoke } from './bedrock-access.ts';

export { NON_STREAM_MARGIN_MS, STOP_MARGIN_SECONDS } from './relay-init.ts';

export interface RelayHostProps extends RelayInitProps {
  readonly vpc: ec2.IVpc;
  /**
   * The subnet the host lives in (private for a VPC origin, public with `publicAddress`); its
   * Availability Zone is the data volume's too.
   */
  readonly subnet: ec2.ISubnet;
  /**
   * Give the host an Elastic IP and a public name that survives a replaced instance (the
   * public-DNS origin); a host in a private subnet has no public address at all.
   * @default false
   */
  readonly publicAddress?: boolean;
  /**
   * Prefix under which provider keys live in SSM Parameter Store (`<prefix>/env/NAME`).
   * @default '/llm-relay'
   */
  readonly ssmPrefix?: string;
  /**
   * EC2 instance type.
   * @default 't4g.small'
   */
  readonly instanceType?: string;
  /**
   * CPU architecture of the instance type.
   * @default 'arm64'
   */
  readonly architecture?: 'arm64' | 'x86_64';
  /**
   * Port the relay listens on; the only port open, and only to CloudFront (see RelayOrigin).
   * @default 8787
   */
  readonly port?: number;
  /**
   * Size of the encrypted gp3 root volume: the OS, the releases and the logs.
   * @default 20
   */
  readonly rootVolumeGiB?: number;
  /**
   * Size of the data volume that holds the SQLite database; it can grow in place, never shrink.
   * @default 20
   */
  readonly dataVolumeGiB?: number;
  /**
   * Create the data volume from this snapshot (an AWS Backup recovery point, or a final snapshot).
   * @default - an empty volume
   */
  readonly dataVolumeSnapshotId?: string;
}

/**
 * The EC2 instance that runs the relay under systemd, installed and updated in place by
 * CloudFormation Init. The database lives on its own EBS volume, so neither a replaced instance
 * nor a stack deletion takes it along. A change of bundle or config changes only the Init
 * metadata, which cfn-hup applies on the running instance: each bundle goes into its own release
 * directory and stays live only if the relay reports healthy with it.
 */
export class RelayHost extends Construct {
  readonly instance: ec2.Instance;
  readonly securityGroup: ec2.SecurityGroup;
  readonly role: iam.Role;
  readonly dataVolume: DataVolume;
  /**
   * Public DNS name of the Elastic IP (with `publicAddress` only): the public-DNS CloudFront
   * origin. Derived from the address, not read from the instance, so a replaced instance keeps it.
   */
  readonly publicDnsName?: string;
  readonly agentConfigParameter: ssm.StringParameter;
  readonly port: number;
  /** Id of the bundle shipped with this synth: its release directory and what /healthz reports. */
  readonly buildId: string;

  constructor(scope: Construct, id: string, props: RelayHostProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const port = props.port ?? 8787;
    const arch = props.architecture ?? 'arm64';
    const ssmPrefix = props.ssmPrefix ?? '/llm-relay';
    this.port = port;
    this.buildId = bundleBuildId(props.bundleDir);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `llm-relay host: port ${port} from CloudFront only, no SSH`,
      // Upstream providers, dnf, SSM and CloudWatch are reached over the internet: through the NAT
      // gateway from the private subnet, or the Elastic IP with the public-DNS origin.
      allowAllOutbound: true,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'llm-relay host: SSM sessions, CloudWatch agent, images, backups, relay secrets',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchAgentServerPolicy'),
      ],
    });
    grantRelayHostAccess(this.role, { ...props, ssmPrefix, backups: true });

    this.agentConfigParameter = new ssm.StringParameter(this, 'AgentConfig', {
      // CloudWatchAgentServerPolicy can only read parameters named AmazonCloudWatch-*.
      parameterName: agentConfigParameterName(stack),
      description: 'CloudWatch agent config of the llm-relay host',
      stringValue: JSON.stringify(cloudWatchAgentConfig({ logGroupName: props.logGroupName })),
    });

    this.dataVolume = new DataVolume(this, 'Data', {
      availabilityZone: props.subnet.availabilityZone,
      sizeGiB: props.dataVolumeGiB,
      snapshotId: props.dataVolumeSnapshotId,
    });

    // A fixed ENI (it carries the Elastic IP, if any, before the instance exists): the instance
    // boots with its final address.
    const eni = new ec2.CfnNetworkInterface(this, 'Interface', {
      subnetId: props.subnet.subnetId,
      groupSet: [this.securityGroup.securityGroupId],
      description: 'llm-relay host',
    });
    const publicAddress = props.publicAddress ? this.elasticIp(eni) : undefined;
    this.publicDnsName = publicAddress?.dnsName;

    const userData = ec2.UserData.forLinux();
    // Present on the standard AL2023 AMI; installing is a no-op there and a fix on minimal images.
    userData.addCommands('dnf install -y aws-cfn-bootstrap');

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: { subnets: [props.subnet] },
      instanceType: new ec2.InstanceType(props.instanceType ?? 't4g.small'),
      // "resolve:ssm:" is resolved by EC2 at launch, so the template never changes when AWS
      // publishes a new AL2023 image; a deploy-time SSM parameter would replace the host.
      machineImage: ec2.MachineImage.resolveSsmParameterAtLaunch(
        `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}`,
        { os: ec2.OperatingSystemType.LINUX, userData },
      ),
      userData,
      role: this.role,
      securityGroup: this.securityGroup,
      requireImdsv2: true,
      ssmSessionPermissions: false,
      // A console click or a stray script must not terminate the host holding the data volume.
      disableApiTermination: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB ?? 20, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
      userDataCausesReplacement: false,
    });
    // Applied after construction: the cfn-hup hook names the instance's own logical id.
    const agentConfig = cloudWatchAgentConfig({ logGroupName: props.logGroupName });
    const init = relayHostInit(stack, props, {
      buildId: this.buildId,
      port,
      ssmPrefix,
      agentConfigParameterName: agentConfigParameterName(stack),
      agentConfig,
      dataVolume: {
        volumeId: this.dataVolume.volume.volumeId,
        device: this.dataVolume.device,
        sizeGiB: props.dataVolumeGiB ?? 20,
      },
      cfnHupLogicalId: stack.resolve(stack.getLogicalId(this.instance.instance)) as string,
    });
    this.instance.applyCloudFormationInit(init, {
      configSets: CONFIG_SETS,
      timeout: Duration.minutes(15),
      // A fingerprint in user data would turn every config change into a stop/start (or a
      // replacement); cfn-hup applies changes to the running instance instead.
      embedFingerprint: false,
    });
    const cfnInstance = this.instance.node.defaultChild as ec2.CfnInstance;
    cfnInstance.addPropertyDeletionOverride('SubnetId');
    cfnInstance.addPropertyDeletionOverride('SecurityGroupIds');
    cfnInstance.addPropertyOverride('NetworkInterfaces', [
      { DeviceIndex: '0', NetworkInterfaceId: eni.ref },
    ]);
    // Attached at launch, so cfn-init finds it while the instance is still being created (a
    // VolumeAttachment would wait for the creation signal that cfn-init is about to send).
    cfnInstance.addPropertyOverride('Volumes', [
      { Device: this.dataVolume.device, VolumeId: this.dataVolume.volume.volumeId },
    ]);
    if (publicAddress) cfnInstance.addResourceDependency(publicAddress.association);
    // An EIP association needs the VPC's internet gateway attached, and cfn-init needs the
    // subnet's default route (to the gateway, or to the NAT gateway from a private subnet) for
    // dnf, CloudFormation and SSM: CloudFormation orders neither on its own.
    const needs = [props.subnet.internetConnectivityEstablished];
    const attachment = props.vpc.node.tryFindChild('VPCGW');
    if (attachment) needs.push(attachment);
    const resources: CfnResource[] = [eni, cfnInstance];
    if (publicAddress) resources.push(publicAddress.eip, publicAddress.association);
    for (const resource of resources) resource.node.addDependency(...needs);
    // cfn-init reads the agent config and the secrets while the instance is being created.
    this.instance.node.addDependency(this.agentConfigParameter, this.role);

    this.acknowledgeFindings();
    acknowledgeAssetRead(this.role);
  }

  /**
   * An Elastic IP on the host's ENI, and the public DNS name EC2 gives that address. The name is
   * built from the address (ec2-a-b-c-d.<region>.compute.amazonaws.com, compute-1 in us-east-1),
   * so it does not change when the instance does; the instance's PublicDnsName attribute would
   * make CloudFront's origin follow every replacement.
   */
  private elasticIp(eni: ec2.CfnNetworkInterface): {
    readonly eip: ec2.CfnEIP;
    readonly association: ec2.CfnEIPAssociation;
    readonly dnsName: string;
  } {
    const eip = new ec2.CfnEIP(this, 'ElasticIp', { domain: 'vpc' });
    const association = new ec2.CfnEIPAssociation(this, 'ElasticIpAssociation', {
      allocationId: eip.attrAllocationId,
      networkInterfaceId: eni.ref,
    });
    return { eip, association, dnsName: publicDnsNameOf(eip.ref, Stack.of(this).region) };
  }

  private acknowledgeFindings(): void {
    const v = Validations.of(this);
    v.acknowledge({
      id: 'CloudFormation-Validate::E1152',
      reason:
        'ImageId "resolve:ssm:<parameter>" is resolved by EC2 at launch (documented RunInstances syntax); the linter only knows literal AMI ids.',
    });
    v.acknowledge({
      id: 'AwsSolutions-EC28',
      reason:
        'Basic 5-minute EC2 monitoring is enough for one relay host; memory and disk come from the CloudWatch agent every 60 s.',
    });
    v.acknowledge({
      id: 'AwsSolutions-EC29',
      reason:
        'A single stateful host by design (SQLite on its data volume, a fixed ENI); an Auto Scaling group would replace it. API termination is disabled and status-check alarms recover it instead.',
    });
    acknowledgeHostManagedPolicies(this);
  }
}

/** The two AWS-managed policies every relay host's role carries (see hostRole). */
export function acknowledgeHostManagedPolicies(scope: Construct): void {
  const v = Validations.of(scope);
  v.acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
    reason: 'AWS-maintained minimum for Session Manager access, which replaces SSH entirely.',
  });
  v.acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]',
    reason: 'AWS-maintained policy the CloudWatch agent documents for publishing metrics and logs.',
  });
}

/**
 * InitSource.fromAsset grants the role read on CDK's asset bucket (s3:GetObject*, GetBucket*,
 * List* on bucket/*): cfn-init downloads the bundle from there.
 */
export function acknowledgeAssetRead(role: iam.Role): void {
  const reason =
    'Generated by CDK for CloudFormation Init: the host downloads the relay bundle from the CDK asset bucket.';
  const policy = role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  const doc = policy ? (Stack.of(role).resolve(policy.document) as PolicyJson) : undefined;
  for (const statement of doc?.Statement ?? []) {
    const actions = ([] as string[]).concat(statement.Action);
    if (!actions.includes('s3:GetObject*')) continue;
    for (const action of actions.filter((a) => a.includes('*'))) {
      acknowledgeWildcardAction(role, action, reason);
    }
    for (const resource of ([] as unknown[]).concat(statement.Resource)) {
      acknowledgeWildcardResource(role, resource, reason);
    }
  }
}

export interface RelayHostAccess {
  readonly imageBucket: Pick<ImageBucket, 'writerPolicy' | 'backupPolicy'>;
  readonly originSecret: secretsmanager.ISecret;
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  readonly ssmPrefix: string;
  /** The single host writes SQLite backups to the bucket; fleet hosts have none. */
  readonly backups: boolean;
}

/** What the relay reads and writes: images (and backups), its secrets, Bedrock models. */
export function grantRelayHostAccess(role: iam.Role, a: RelayHostAccess): void {
  const stack = Stack.of(role);
  role.addManagedPolicy(a.imageBucket.writerPolicy);
  if (a.backups) role.addManagedPolicy(a.imageBucket.backupPolicy);
  a.originSecret.grantRead(role);
  // Bedrock channels sign with this role: exactly their models, nothing else.
  grantBedrockInvoke(role, a.relayConfig ?? {});
  const envPath = `${a.ssmPrefix}/env`.slice(1);
  const envParameters = Arn.format(
    { service: 'ssm', resource: 'parameter', resourceName: `${envPath}/*` },
    stack,
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['ssm:GetParametersByPath', 'ssm:GetParameters', 'ssm:GetParameter'],
      resources: [
        // GetParametersByPath is authorized against the path itself.
        Arn.format({ service: 'ssm', resource: 'parameter', resourceName: envPath }, stack),
        envParameters,
      ],
    }),
  );
  acknowledgeWildcardResource(
    role,
    envParameters,
    'One SecureString per provider key under <ssmPrefix>/env/, named after its environment variable; operators add providers without redeploying.',
  );
}

interface PolicyJson {
  readonly Statement?: readonly {
    readonly Action: string | string[];
    readonly Resource: unknown;
  }[];
}

/**
 * EC2's public DNS name for a public IPv4 address (a token is fine): `ec2-a-b-c-d.compute-1.amazonaws.com`
 * in us-east-1, `ec2-a-b-c-d.<region>.compute.amazonaws.com` elsewhere.
 */
export function publicDnsNameOf(address: string, region: string): string {
  if (Token.isUnresolved(region)) {
    throw new Error('The public-DNS origin needs the stack in an explicit region (env.region)');
  }
  const domain = region === 'us-east-1' ? 'compute-1' : `${region}.compute`;
  return Fn.join('', ['ec2-', Fn.join('-', Fn.split('.', address)), `.${domain}.amazonaws.com`]);
}

export function agentConfigParameterName(stack: Stack, suffix = 'relay'): string {
  return `AmazonCloudWatch-${stack.stackName}-${suffix}`;
}
