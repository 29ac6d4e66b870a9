import { createHash } from 'node:crypto';
import { Arn, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from '../nag.ts';
import { IMAGE_KEY_PREFIX } from './image-bucket.ts';
import type { ImageBucket } from './image-bucket.ts';
import {
  HOST_PATHS,
  NODE_PACKAGE,
  RELAY_SERVICE,
  RELAY_USER,
  cfnAutoReloaderHook,
  cfnHupConfig,
  cfnHupUnit,
  cloudWatchAgentConfig,
  fetchSecretsScript,
  keysWrapperScript,
  logrotateConfig,
  nodeVersionCheck,
  relayUnit,
} from './relay-host-files.ts';

/** Name of the AWS-managed prefix list of CloudFront's origin-facing addresses. */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

export interface RelayHostProps {
  readonly vpc: ec2.IVpc;
  /** Directory holding the esbuild bundle (server.mjs, keys.mjs) that the host runs. */
  readonly bundleDir: string;
  /**
   * The operator's relay config (channels, prices…). `server.originSecret`,
   * `server.publicBaseUrl` and `images` are set by this construct.
   * @default {}
   */
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  /** Public https base URL of the API, used in image URLs. */
  readonly publicBaseUrl: string;
  /** Where generated images go; the host's role gets the bucket's writer policy. */
  readonly imageBucket: Pick<ImageBucket, 'bucket' | 'writerPolicy'>;
  readonly originSecret: secretsmanager.ISecret;
  /** Name of the (existing) log group the agent ships the relay's JSON log to. */
  readonly logGroupName: string;
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
   * Port the relay listens on; the only port open, and only to CloudFront.
   * @default 8787
   */
  readonly port?: number;
  /**
   * Id of the CloudFront origin-facing prefix list in this region.
   * @default - looked up by name (a context lookup; needs an account in the stack's env)
   */
  readonly cloudfrontPrefixListId?: string;
  /**
   * Size of the encrypted gp3 root volume, which also holds the SQLite data and logs.
   * @default 20
   */
  readonly rootVolumeGiB?: number;
}

const CONFIG_SETS = ['default'];

/**
 * The EC2 instance that runs the relay under systemd, installed and updated in place by
 * CloudFormation Init. A change of bundle or config changes only the Init metadata, which cfn-hup
 * applies on the running instance: replacing it would lose the SQLite data on its volume.
 */
export class RelayHost extends Construct {
  readonly instance: ec2.Instance;
  readonly securityGroup: ec2.SecurityGroup;
  readonly role: iam.Role;
  /** Stable public DNS name (it belongs to the Elastic IP): the CloudFront origin. */
  readonly publicDnsName: string;
  readonly agentConfigParameter: ssm.StringParameter;
  readonly port: number;

  constructor(scope: Construct, id: string, props: RelayHostProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const port = props.port ?? 8787;
    const arch = props.architecture ?? 'arm64';
    const ssmPrefix = props.ssmPrefix ?? '/llm-relay';
    this.port = port;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `llm-relay host: port ${port} from CloudFront only, no SSH`,
      // Upstream providers, dnf, SSM and CloudWatch are all reached over the internet.
      allowAllOutbound: true,
    });
    const prefixListId =
      props.cloudfrontPrefixListId ??
      ec2.PrefixList.fromLookup(this, 'CloudFrontPrefixList', {
        prefixListName: CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST,
      }).prefixListId;
    // One rule for one port: the prefix list weighs ~55 of a group's 60 rules.
    this.securityGroup.addIngressRule(
      ec2.Peer.prefixList(prefixListId),
      ec2.Port.tcp(port),
      'CloudFront origin-facing addresses only',
    );

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'llm-relay host: SSM sessions, CloudWatch agent, images, relay secrets',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchAgentServerPolicy'),
      ],
    });
    this.grantRelayAccess(props, ssmPrefix);

    this.agentConfigParameter = new ssm.StringParameter(this, 'AgentConfig', {
      // CloudWatchAgentServerPolicy can only read parameters named AmazonCloudWatch-*.
      parameterName: agentConfigParameterName(stack),
      description: 'CloudWatch agent config of the llm-relay host',
      stringValue: JSON.stringify(cloudWatchAgentConfig({ logGroupName: props.logGroupName })),
    });

    // The ENI carries the Elastic IP before the instance exists, so the instance boots with its
    // final address and PublicDnsName already names the Elastic IP. Associating an EIP after
    // launch would leave CloudFront pointing at the auto-assigned name that stops resolving.
    const subnet = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PUBLIC }).subnets[0];
    if (!subnet) throw new Error('RelayHost needs a VPC with a public subnet');
    const eni = new ec2.CfnNetworkInterface(this, 'Interface', {
      subnetId: subnet.subnetId,
      groupSet: [this.securityGroup.securityGroupId],
      description: 'llm-relay host (holds the Elastic IP)',
    });
    const eip = new ec2.CfnEIP(this, 'ElasticIp', { domain: 'vpc' });
    const eipAssociation = new ec2.CfnEIPAssociation(this, 'ElasticIpAssociation', {
      allocationId: eip.attrAllocationId,
      networkInterfaceId: eni.ref,
    });

    const userData = ec2.UserData.forLinux();
    // Present on the standard AL2023 AMI; installing is a no-op there and a fix on minimal images.
    userData.addCommands('dnf install -y aws-cfn-bootstrap');

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: { subnets: [subnet] },
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
    this.instance.applyCloudFormationInit(this.buildInit(props, { port, ssmPrefix }), {
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
    cfnInstance.addResourceDependency(eipAssociation);
    // cfn-init reads the agent config and the secrets while the instance is being created.
    this.instance.node.addDependency(this.agentConfigParameter, this.role);
    this.publicDnsName = this.instance.instancePublicDnsName;

    this.acknowledgeFindings();
    this.acknowledgeAssetRead();
  }

  /**
   * InitSource.fromAsset grants the role read on CDK's asset bucket (s3:GetObject*, GetBucket*,
   * List* on bucket/*): cfn-init downloads the bundle from there.
   */
  private acknowledgeAssetRead(): void {
    const reason =
      'Generated by CDK for CloudFormation Init: the host downloads the relay bundle from the CDK asset bucket.';
    const policy = this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    const doc = policy ? (Stack.of(this).resolve(policy.document) as PolicyJson) : undefined;
    for (const statement of doc?.Statement ?? []) {
      const actions = ([] as string[]).concat(statement.Action);
      if (!actions.includes('s3:GetObject*')) continue;
      for (const action of actions.filter((a) => a.includes('*'))) {
        acknowledgeWildcardAction(this.role, action, reason);
      }
      for (const resource of ([] as unknown[]).concat(statement.Resource)) {
        acknowledgeWildcardResource(this.role, resource, reason);
      }
    }
  }

  private grantRelayAccess(props: RelayHostProps, ssmPrefix: string): void {
    const stack = Stack.of(this);
    this.role.addManagedPolicy(props.imageBucket.writerPolicy);
    props.originSecret.grantRead(this.role);
    const envPath = `${ssmPrefix}/env`.slice(1);
    const envParameters = Arn.format(
      { service: 'ssm', resource: 'parameter', resourceName: `${envPath}/*` },
      stack,
    );
    this.role.addToPolicy(
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
      this.role,
      envParameters,
      'One SecureString per provider key under <ssmPrefix>/env/, named after its environment variable; operators add providers without redeploying.',
    );
  }

  private buildInit(
    props: RelayHostProps,
    o: { readonly port: number; readonly ssmPrefix: string },
  ): ec2.CloudFormationInit {
    const stack = Stack.of(this);
    const restartRelay = new ec2.InitServiceRestartHandle();
    const restartCfnHup = new ec2.InitServiceRestartHandle();
    const logicalId = stack.resolve(stack.getLogicalId(this.instance.instance)) as string;
    const hup = {
      stackName: stack.stackName,
      region: stack.region,
      logicalId,
      configSets: CONFIG_SETS,
    };
    const agentConfig = JSON.stringify(cloudWatchAgentConfig({ logGroupName: props.logGroupName }));
    const relayConfig = {
      ...props.relayConfig,
      server: {
        ...(props.relayConfig?.server as Record<string, unknown> | undefined),
        originSecret: 'env:RELAY_ORIGIN_SECRET',
        publicBaseUrl: props.publicBaseUrl,
      },
      images: {
        store: 's3',
        bucket: props.imageBucket.bucket.bucketName,
        region: props.imageBucket.bucket.stack.region,
        prefix: IMAGE_KEY_PREFIX,
      },
    };
    const envParameterPath = `${o.ssmPrefix}/env/`;

    return ec2.CloudFormationInit.fromConfigSets({
      configSets: { default: ['system', 'relay'] },
      configs: {
        // Runtime, agent and the service user must exist before files are chowned to it.
        system: new ec2.InitConfig([
          ec2.InitPackage.yum(NODE_PACKAGE),
          ec2.InitPackage.yum('amazon-cloudwatch-agent'),
          ec2.InitPackage.yum('logrotate'),
          ec2.InitCommand.shellCommand(
            `id -u ${RELAY_USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${HOST_PATHS.dataDir} --shell /sbin/nologin ${RELAY_USER}`,
            { key: '10-user' },
          ),
          ec2.InitCommand.shellCommand(
            `install -d -o root -g ${RELAY_USER} -m 0750 ${HOST_PATHS.configDir} && install -d -o ${RELAY_USER} -g ${RELAY_USER} -m 0750 ${HOST_PATHS.dataDir} ${HOST_PATHS.logDir}`,
            { key: '20-dirs' },
          ),
          ec2.InitCommand.shellCommand(nodeVersionCheck(), { key: '30-node' }),
        ]),
        relay: new ec2.InitConfig([
          ec2.InitSource.fromAsset(HOST_PATHS.appDir, props.bundleDir, {
            serviceRestartHandles: [restartRelay],
          }),
          ec2.InitFile.fromString(HOST_PATHS.configFile, JSON.stringify(relayConfig, null, 2), {
            owner: 'root',
            group: RELAY_USER,
            mode: '000640',
            serviceRestartHandles: [restartRelay],
          }),
          ec2.InitFile.fromString(
            HOST_PATHS.fetchSecrets,
            fetchSecretsScript({
              region: stack.region,
              originSecretArn: props.originSecret.secretArn,
              envParameterPath,
            }),
            { owner: 'root', group: 'root', mode: '000700', serviceRestartHandles: [restartRelay] },
          ),
          ec2.InitFile.fromString(HOST_PATHS.keysWrapper, keysWrapperScript(), {
            owner: 'root',
            group: 'root',
            mode: '000755',
          }),
          ec2.InitFile.fromString(
            HOST_PATHS.unit,
            relayUnit({ port: o.port, region: stack.region }),
            {
              mode: '000644',
              serviceRestartHandles: [restartRelay],
            },
          ),
          ec2.InitFile.fromString('/etc/logrotate.d/llm-relay', logrotateConfig(), {
            mode: '000644',
          }),
          ec2.InitFile.fromString('/etc/cfn/cfn-hup.conf', cfnHupConfig(hup), {
            mode: '000400',
            serviceRestartHandles: [restartCfnHup],
          }),
          ec2.InitFile.fromString(
            '/etc/cfn/hooks.d/cfn-auto-reloader.conf',
            cfnAutoReloaderHook(hup),
            {
              mode: '000400',
              serviceRestartHandles: [restartCfnHup],
            },
          ),
          ec2.InitFile.fromString('/etc/systemd/system/cfn-hup.service', cfnHupUnit(), {
            mode: '000644',
            serviceRestartHandles: [restartCfnHup],
          }),
          ec2.InitCommand.shellCommand('systemctl daemon-reload', { key: '10-daemon-reload' }),
          ec2.InitCommand.shellCommand(
            `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c ssm:${agentConfigParameterName(stack)}`,
            {
              key: '20-cloudwatch-agent',
              // The agent config lives in SSM, outside this metadata; its hash here makes a config
              // change a metadata change, so cfn-hup re-runs this command.
              env: { AGENT_CONFIG_SHA256: sha256(agentConfig) },
            },
          ),
          ec2.InitService.enable(RELAY_SERVICE, {
            serviceManager: ec2.ServiceManager.SYSTEMD,
            serviceRestartHandle: restartRelay,
          }),
          ec2.InitService.enable('cfn-hup', {
            serviceManager: ec2.ServiceManager.SYSTEMD,
            serviceRestartHandle: restartCfnHup,
          }),
        ]),
      },
    });
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
        'A single stateful host by design (SQLite on its volume, Elastic IP on a fixed ENI); an Auto Scaling group would replace it and lose both. Status-check alarms recover it instead.',
    });
    v.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'AWS-maintained minimum for Session Manager access, which replaces SSH entirely.',
    });
    v.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]',
      reason:
        'AWS-maintained policy the CloudWatch agent documents for publishing metrics and logs.',
    });
  }
}

interface PolicyJson {
  readonly Statement?: readonly {
    readonly Action: string | string[];
    readonly Resource: unknown;
  }[];
}

function agentConfigParameterName(stack: Stack): string {
  return `AmazonCloudWatch-${stack.stackName}-relay`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
