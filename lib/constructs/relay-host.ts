import { createHash } from 'node:crypto';
import { Arn, Duration, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { bundleBuildId } from '../../app/src/build-info.ts';
import { relayConfigSchema } from '../../app/src/config.ts';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from '../nag.ts';
import { DataVolume } from './data-volume.ts';
import { BACKUP_KEY_PREFIX, IMAGE_KEY_PREFIX } from './image-bucket.ts';
import type { ImageBucket } from './image-bucket.ts';
import {
  HOST_PATHS,
  NODE_PACKAGE,
  OPS_USER,
  RELAY_SERVICE,
  RELAY_USER,
  activateReleaseScript,
  backupWrapperScript,
  cfnAutoReloaderHook,
  cfnHupConfig,
  cfnHupUnit,
  cloudWatchAgentConfig,
  fetchSecretsScript,
  keysWrapperScript,
  logrotateConfig,
  mountDataScript,
  nodeVersionCheck,
  relayUnit,
} from './relay-host-files.ts';
import { grantBedrockInvoke } from './bedrock-access.ts';

/**
 * Time the relay keeps between its non-streaming budget and CloudFront's origin read timeout:
 * writing the usage row and sending a large answer come after the budget check.
 */
export const NON_STREAM_MARGIN_MS = 5_000;
/** systemd's stop timeout past the relay's drain: the cluster primary's 5 s backstop, plus 10 s. */
export const STOP_MARGIN_SECONDS = 15;

export interface RelayHostProps {
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
  /** Directory holding the esbuild bundle (server.mjs, keys.mjs, backup.mjs) the host runs. */
  readonly bundleDir: string;
  /**
   * The operator's relay config (channels, prices…). `server.originSecret`,
   * `server.publicBaseUrl`, `server.nonStreamBudgetMs`, `images` and `backup` are set here.
   * @default {}
   */
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  /**
   * Browser origins the API admits: the default of the relay's `server.corsOrigins` (the
   * operator's relayConfig value wins).
   * @default - the relay's default
   */
  readonly corsOrigins?: readonly string[];
  /**
   * A value that differs per deploy (deploy.yml passes the run id and attempt). cfn-hup re-runs
   * cfn-init only when the Init metadata changes, so an activation that failed would never be
   * tried again by re-running the same deploy; this value in the metadata makes it re-run.
   * Outside the fingerprint: activate-release stays a no-op when the release is already live.
   * @default - none: cfn-init re-runs only on a real change
   */
  readonly deployNonce?: string;
  /** Public https base URL of the API, used in image URLs. */
  readonly publicBaseUrl: string;
  /** Where generated images and database backups go; the role gets the bucket's two policies. */
  readonly imageBucket: Pick<ImageBucket, 'bucket' | 'writerPolicy' | 'backupPolicy'>;
  readonly originSecret: secretsmanager.ISecret;
  /** Name of the (existing) log group the agent ships the relay's JSON log to. */
  readonly logGroupName: string;
  /**
   * CloudFront's origin read timeout: non-streaming requests must end before it.
   * @default Duration.seconds(60)
   */
  readonly originReadTimeout?: Duration;
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

const CONFIG_SETS = ['default'];

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
    this.grantRelayAccess(props, ssmPrefix);

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
    this.acknowledgeAssetRead();
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
    this.role.addManagedPolicy(props.imageBucket.backupPolicy);
    props.originSecret.grantRead(this.role);
    // Bedrock channels sign with this role: exactly their models, nothing else.
    grantBedrockInvoke(this.role, props.relayConfig ?? {});
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

  /** The relay config the host runs: the operator's, plus what this deployment decides. */
  private hostRelayConfig(props: RelayHostProps): {
    readonly config: Record<string, unknown>;
    readonly stopTimeoutSeconds: number;
  } {
    const operator = props.relayConfig ?? {};
    // Defaults as the relay applies them (the operator's part was validated at synth already).
    const parsed = relayConfigSchema.parse(operator);
    const readTimeoutMs = (props.originReadTimeout ?? Duration.seconds(60)).toMilliseconds();
    const cap = readTimeoutMs - NON_STREAM_MARGIN_MS;
    const own = parsed.server.nonStreamBudgetMs;
    if (own !== undefined && own > cap) {
      throw new Error(
        `relayConfig.server.nonStreamBudgetMs (${own}) must stay below CloudFront's origin read timeout: at most ${cap} for originReadTimeoutSeconds ${readTimeoutMs / 1000}`,
      );
    }
    const operatorServer = operator.server as Record<string, unknown> | undefined;
    const operatorBackup = operator.backup as Record<string, unknown> | undefined;
    const bucket = props.imageBucket.bucket;
    return {
      config: {
        ...operator,
        server: {
          ...(props.corsOrigins && { corsOrigins: [...props.corsOrigins] }),
          ...operatorServer,
          originSecret: 'env:RELAY_ORIGIN_SECRET',
          publicBaseUrl: props.publicBaseUrl,
          nonStreamBudgetMs: own ?? cap,
        },
        images: {
          store: 's3',
          bucket: bucket.bucketName,
          region: bucket.stack.region,
          prefix: IMAGE_KEY_PREFIX,
        },
        backup: {
          ...(operatorBackup?.intervalMinutes !== undefined && {
            intervalMinutes: operatorBackup.intervalMinutes,
          }),
          bucket: bucket.bucketName,
          region: bucket.stack.region,
          prefix: `${BACKUP_KEY_PREFIX}sqlite/`,
        },
      },
      stopTimeoutSeconds: Math.ceil(parsed.server.shutdownGraceMs / 1000) + STOP_MARGIN_SECONDS,
    };
  }

  private buildInit(
    props: RelayHostProps,
    o: { readonly port: number; readonly ssmPrefix: string },
  ): ec2.CloudFormationInit {
    const stack = Stack.of(this);
    const restartCfnHup = new ec2.InitServiceRestartHandle();
    const logicalId = stack.resolve(stack.getLogicalId(this.instance.instance)) as string;
    const hup = {
      stackName: stack.stackName,
      region: stack.region,
      logicalId,
      configSets: CONFIG_SETS,
    };
    const agentConfig = JSON.stringify(cloudWatchAgentConfig({ logGroupName: props.logGroupName }));
    const { config, stopTimeoutSeconds } = this.hostRelayConfig(props);
    const configText = JSON.stringify(config, null, 2);
    const unitText = relayUnit({ port: o.port, region: stack.region, stopTimeoutSeconds });
    const fetchSecretsText = fetchSecretsScript({
      region: stack.region,
      originSecretArn: props.originSecret.secretArn,
      envParameterPath: `${o.ssmPrefix}/env/`,
    });
    const release = `${HOST_PATHS.releasesDir}/${this.buildId}`;
    // What the relay runs with: a change to any of it means a restart (and a health check).
    const fingerprint = sha256(
      JSON.stringify(stack.resolve([this.buildId, configText, unitText, fetchSecretsText])),
    ).slice(0, 16);

    return ec2.CloudFormationInit.fromConfigSets({
      configSets: { default: ['system', 'relay'] },
      configs: {
        // Runtime, agent, data volume and the service user must exist before files are chowned.
        system: new ec2.InitConfig([
          ec2.InitPackage.yum(NODE_PACKAGE),
          ec2.InitPackage.yum('amazon-cloudwatch-agent'),
          ec2.InitPackage.yum('logrotate'),
          // AL2023 pins dnf to its AMI's release; Patch Manager's weekly run should see updates.
          ec2.InitFile.fromString(HOST_PATHS.dnfReleasever, 'latest\n', { mode: '000644' }),
          ec2.InitFile.fromString(
            HOST_PATHS.mountData,
            mountDataScript({
              volumeId: this.dataVolume.volume.volumeId,
              device: this.dataVolume.device,
            }),
            { owner: 'root', group: 'root', mode: '000700' },
          ),
          ec2.InitCommand.shellCommand(
            `id -u ${RELAY_USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${HOST_PATHS.dataDir} --shell /sbin/nologin ${RELAY_USER}`,
            { key: '10-user' },
          ),
          // Read-only ops sessions run as this user; systemd-journal lets it read the journal.
          ec2.InitCommand.shellCommand(
            `id -u ${OPS_USER} >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash --groups systemd-journal ${OPS_USER}`,
            { key: '11-ops-user' },
          ),
          ec2.InitCommand.shellCommand(HOST_PATHS.mountData, {
            key: '15-data-volume',
            // The size in the metadata: growing the volume re-runs this, which grows the file system.
            env: { DATA_VOLUME_GIB: String(props.dataVolumeGiB ?? 20) },
          }),
          ec2.InitCommand.shellCommand(
            // The log directory's group is the ops user's: ops sessions read the relay log, and
            // nothing else of the relay (config, secrets and database stay llm-relay's).
            `install -d -o root -g ${RELAY_USER} -m 0750 ${HOST_PATHS.configDir} && install -d -o ${RELAY_USER} -g ${RELAY_USER} -m 0750 ${HOST_PATHS.dataDir} && install -d -o ${RELAY_USER} -g ${OPS_USER} -m 0750 ${HOST_PATHS.logDir} && install -d -m 0755 ${HOST_PATHS.releasesDir}`,
            { key: '20-dirs' },
          ),
          ec2.InitCommand.shellCommand(nodeVersionCheck(), { key: '30-node' }),
        ]),
        relay: new ec2.InitConfig([
          ec2.InitSource.fromAsset(release, props.bundleDir),
          ec2.InitFile.fromString(HOST_PATHS.configFile, configText, {
            owner: 'root',
            group: RELAY_USER,
            mode: '000640',
          }),
          ec2.InitFile.fromString(HOST_PATHS.fetchSecrets, fetchSecretsText, {
            owner: 'root',
            group: 'root',
            mode: '000700',
          }),
          ec2.InitFile.fromString(
            HOST_PATHS.activateRelease,
            activateReleaseScript({ port: o.port }),
            { owner: 'root', group: 'root', mode: '000700' },
          ),
          ec2.InitFile.fromString(HOST_PATHS.keysWrapper, keysWrapperScript(), {
            owner: 'root',
            group: 'root',
            mode: '000755',
          }),
          ec2.InitFile.fromString(HOST_PATHS.backupWrapper, backupWrapperScript(), {
            owner: 'root',
            group: 'root',
            mode: '000755',
          }),
          ec2.InitFile.fromString(HOST_PATHS.unit, unitText, { mode: '000644' }),
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
          // Restarts the relay only when its release, config or unit changed, keeps the new
          // release only if /healthz reports it, and fails cfn-init otherwise.
          ec2.InitCommand.shellCommand(
            `${HOST_PATHS.activateRelease} ${this.buildId} ${fingerprint}`,
            {
              key: '30-activate-release',
              ...(props.deployNonce && { env: { LLM_RELAY_DEPLOY: props.deployNonce } }),
            },
          ),
          ec2.InitService.enable(RELAY_SERVICE, { serviceManager: ec2.ServiceManager.SYSTEMD }),
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
        'A single stateful host by design (SQLite on its data volume, a fixed ENI); an Auto Scaling group would replace it. API termination is disabled and status-check alarms recover it instead.',
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

function agentConfigParameterName(stack: Stack): string {
  return `AmazonCloudWatch-${stack.stackName}-relay`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
