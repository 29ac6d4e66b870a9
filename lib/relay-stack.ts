import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type * as backup from 'aws-cdk-lib/aws-backup';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { ApiAliasRecords } from './constructs/dns.ts';
import { HostPatching } from './constructs/host-patching.ts';
import type { ImageBucket } from './constructs/image-bucket.ts';
import { RelayEdge } from './constructs/edge.ts';
import { RelayNetwork } from './constructs/network.ts';
import { OpsReadOnlyPolicy } from './constructs/ops-policy.ts';
import { OpsSessionDocument } from './constructs/ops-session.ts';
import { OriginSecret } from './constructs/origin-secret.ts';
import { RelayHost } from './constructs/relay-host.ts';
import { RelayOrigin } from './constructs/relay-origin.ts';
import type { RelayOriginType } from './constructs/relay-origin.ts';
import { VolumeBackup } from './constructs/volume-backup.ts';

export interface RelayStackProps extends StackProps {
  readonly apiDomain: string;
  readonly zone: route53.IHostedZone;
  readonly certificate: acm.ICertificate;
  readonly images: Pick<ImageBucket, 'bucket' | 'writerPolicy' | 'backupPolicy'>;
  readonly accessLogBucket: s3.IBucket;
  readonly logGroupName: string;
  /** Directory with the esbuild bundle of the relay (server.mjs, keys.mjs, backup.mjs). */
  readonly relayBundleDir: string;
  /** @default {} */
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  /** @default 't4g.small' */
  readonly instanceType?: string;
  /** @default 'arm64' */
  readonly instanceArch?: 'arm64' | 'x86_64';
  /** @default - the region's first zone by name */
  readonly availabilityZone?: string;
  /** @default 20 */
  readonly dataVolumeGiB?: number;
  /** @default - an empty data volume */
  readonly dataVolumeSnapshotId?: string;
  /** Days AWS Backup keeps each daily snapshot of the data volume. @default 35 */
  readonly backupRetentionDays?: number;
  /** The retained vault (Stateful stack) the daily snapshots go to. */
  readonly backupVault: backup.IBackupVault;
  /** @default 'cron(0 4 ? * SUN *)' */
  readonly patchSchedule?: string;
  /** @default 8787 */
  readonly relayPort?: number;
  /** @default 'vpc-origin' */
  readonly originType?: RelayOriginType;
  /** @default 60 */
  readonly originReadTimeoutSeconds?: number;
  /** Public-DNS origin only. @default - looked up by name */
  readonly cloudfrontPrefixListId?: string;
  /** @default ['*'] */
  readonly corsOrigins?: readonly string[];
  /** @default - /admin open to any address */
  readonly adminCidrs?: readonly string[];
  /** @default '/llm-relay' */
  readonly ssmPrefix?: string;
  /** CLOUDFRONT-scope web ACL from the us-east-1 stack. @default - none */
  readonly webAclArn?: string;
  /** See RelayHostProps.deployNonce. @default - none */
  readonly deployNonce?: string;
}

/**
 * The relay host, its data volume and the CloudFront edge in front of it, on the API domain.
 * Termination protection is on: deleting this stack would stop the API (the data volume leaves a
 * final snapshot, and the backup vault stays).
 */
export class RelayStack extends Stack {
  readonly host: RelayHost;
  readonly distribution: cloudfront.Distribution;
  readonly opsPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    const originType = props.originType ?? 'vpc-origin';
    const network = new RelayNetwork(this, 'Network', {
      availabilityZone: props.availabilityZone,
      // CloudFront VPC origins reach only instances in private subnets.
      privateHost: originType === 'vpc-origin',
    });
    const originSecret = new OriginSecret(this, 'OriginSecret').secret;
    const readTimeout = Duration.seconds(props.originReadTimeoutSeconds ?? 60);

    this.host = new RelayHost(this, 'Host', {
      vpc: network.vpc,
      subnet: network.subnet,
      publicAddress: originType === 'public-dns',
      ...hostProps(props, originSecret, readTimeout),
      deployNonce: props.deployNonce,
      dataVolumeGiB: props.dataVolumeGiB,
      dataVolumeSnapshotId: props.dataVolumeSnapshotId,
    });
    // cfn-init downloads the bundle from S3 while the instance is created: the endpoint's route
    // should not appear half way through.
    this.host.instance.node.addDependency(network.s3Endpoint);
    new VolumeBackup(this, 'Backup', {
      volume: this.host.dataVolume.volume,
      vault: props.backupVault,
      retentionDays: props.backupRetentionDays,
    });
    new HostPatching(this, 'Patching', {
      instance: this.host.instance,
      schedule: props.patchSchedule,
    });

    const origin = new RelayOrigin(this, 'Origin', {
      instance: this.host.instance,
      securityGroup: this.host.securityGroup,
      vpc: network.vpc,
      subnets: [network.subnet],
      port: this.host.port,
      publicDnsName: this.host.publicDnsName,
      originSecret,
      type: originType,
      readTimeout,
      cloudfrontPrefixListId: props.cloudfrontPrefixListId,
    });
    this.distribution = serveApi(this, origin, props);
    const opsSession = new OpsSessionDocument(this, 'OpsSession');
    this.opsPolicy = new OpsReadOnlyPolicy(this, 'Ops', {
      logGroupName: props.logGroupName,
      instance: this.host.instance,
      sessionDocumentName: opsSession.documentName,
    }).policy;

    this.publishIds(props.ssmPrefix ?? '/llm-relay');

    new CfnOutput(this, 'InstanceId', {
      value: this.host.instance.instanceId,
      description: 'aws ssm start-session --target <this id>',
    });
    new CfnOutput(this, 'DataVolumeId', { value: this.host.dataVolume.volume.volumeId });
    new CfnOutput(this, 'DataVolumeDevice', {
      value: this.host.dataVolume.device,
      description: 'Device the data volume is attached under; a restore must pick another one',
    });
    new CfnOutput(this, 'RelayBuild', {
      value: this.host.buildId,
      description: 'Build id of the relay bundle this deploy shipped; /healthz reports it',
    });
    new CfnOutput(this, 'OpsReadOnlyPolicyArn', {
      value: this.opsPolicy.managedPolicyArn,
      description:
        'Attach to the ops role or group: logs, dashboards, alarms, SSM shell on the host',
    });
    new CfnOutput(this, 'OpsSessionDocument', {
      value: opsSession.documentName,
      description:
        'aws ssm start-session --target <InstanceId> --document-name <this>: an unprivileged shell',
    });
  }

  /**
   * The instance and distribution ids in SSM parameters, which the Monitoring stack reads as
   * `AWS::SSM::Parameter::Value<String>` template parameters: CloudFormation resolves those at
   * every update, and the CDK CLI never skips a stack that has them. A stack output read with
   * Fn::GetStackOutput would leave the Monitoring template unchanged after a replaced instance,
   * so the CLI would skip it and its alarms would watch the old id.
   */
  private publishIds(ssmPrefix: string): void {
    const names = relayIdParameterNames(ssmPrefix);
    new ssm.StringParameter(this, 'InstanceIdParameter', {
      parameterName: names.instanceId,
      description: 'Id of the llm-relay host instance (read by the Monitoring stack)',
      stringValue: this.host.instance.instanceId,
    });
    new ssm.StringParameter(this, 'DistributionIdParameter', {
      parameterName: names.distributionId,
      description: 'Id of the llm-relay CloudFront distribution (read by the Monitoring stack)',
      stringValue: this.distribution.distributionId,
    });
  }
}

/** Names of the SSM parameters holding the ids Monitoring watches, under the deployment's prefix. */
export function relayIdParameterNames(ssmPrefix: string): {
  readonly instanceId: string;
  readonly distributionId: string;
} {
  return {
    instanceId: `${ssmPrefix}/stack/instance-id`,
    distributionId: `${ssmPrefix}/stack/distribution-id`,
  };
}

/**
 * CloudFront in front of `origin` (and the image bucket) on the API domain, with its DNS records:
 * and the outputs naming them: the same for the single host and the fleet. The distribution
 * waits for the origin's ingress.
 */
export function serveApi(
  stack: Stack,
  origin: RelayOrigin,
  props: Pick<
    RelayStackProps,
    | 'images'
    | 'apiDomain'
    | 'certificate'
    | 'accessLogBucket'
    | 'corsOrigins'
    | 'webAclArn'
    | 'adminCidrs'
    | 'zone'
  >,
): cloudfront.Distribution {
  const distribution = new RelayEdge(stack, 'Edge', {
    relayOrigin: origin.origin,
    imageBucket: props.images.bucket,
    domainName: props.apiDomain,
    certificate: props.certificate,
    logBucket: props.accessLogBucket,
    corsOrigins: props.corsOrigins,
    webAclArn: props.webAclArn,
    adminCidrs: props.adminCidrs,
  }).distribution;
  origin.admitBefore(distribution);
  new ApiAliasRecords(stack, 'ApiRecords', {
    zone: props.zone,
    domainName: props.apiDomain,
    distribution,
  });
  new CfnOutput(stack, 'ApiBaseUrl', { value: `https://${props.apiDomain}/v1` });
  new CfnOutput(stack, 'DistributionId', { value: distribution.distributionId });
  new CfnOutput(stack, 'DistributionDomainName', { value: distribution.distributionDomainName });
  new CfnOutput(stack, 'ImageBucketName', { value: props.images.bucket.bucketName });
  return distribution;
}

/** What a host (or every fleet host) runs with, from the stack's settings. */
export function hostProps(
  props: Omit<RelayStackProps, 'backupVault'>,
  originSecret: secretsmanager.ISecret,
  readTimeout: Duration,
) {
  return {
    bundleDir: props.relayBundleDir,
    relayConfig: props.relayConfig,
    corsOrigins: props.corsOrigins,
    publicBaseUrl: `https://${props.apiDomain}`,
    imageBucket: props.images,
    originSecret,
    originReadTimeout: readTimeout,
    logGroupName: props.logGroupName,
    ssmPrefix: props.ssmPrefix,
    instanceType: props.instanceType,
    architecture: props.instanceArch,
    port: props.relayPort,
  };
}
