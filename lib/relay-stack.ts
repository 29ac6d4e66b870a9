import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ApiAliasRecords } from './constructs/dns.ts';
import type { ImageBucket } from './constructs/image-bucket.ts';
import { RelayEdge } from './constructs/edge.ts';
import type { OriginProtocol } from './constructs/edge.ts';
import { RelayNetwork } from './constructs/network.ts';
import { OriginSecret } from './constructs/origin-secret.ts';
import { RelayHost } from './constructs/relay-host.ts';

export interface RelayStackProps extends StackProps {
  readonly apiDomain: string;
  readonly zone: route53.IHostedZone;
  readonly certificate: acm.ICertificate;
  readonly images: Pick<ImageBucket, 'bucket' | 'writerPolicy'>;
  readonly accessLogBucket: s3.IBucket;
  readonly logGroupName: string;
  /** Directory with the esbuild bundle of the relay (server.mjs, keys.mjs). */
  readonly relayBundleDir: string;
  /** @default {} */
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  /** @default 't4g.small' */
  readonly instanceType?: string;
  /** @default 'arm64' */
  readonly instanceArch?: 'arm64' | 'x86_64';
  /** @default 8787 */
  readonly relayPort?: number;
  /** @default 'http-only' */
  readonly originProtocol?: OriginProtocol;
  /** @default 60 */
  readonly originReadTimeoutSeconds?: number;
  /** @default - looked up by name */
  readonly cloudfrontPrefixListId?: string;
  /** @default ['*'] */
  readonly corsOrigins?: readonly string[];
  /** @default - /admin open to any address */
  readonly adminCidrs?: readonly string[];
  /** @default '/llm-relay' */
  readonly ssmPrefix?: string;
}

/** The relay host and the CloudFront edge in front of it, on the API domain. */
export class RelayStack extends Stack {
  readonly host: RelayHost;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, props);
    const network = new RelayNetwork(this, 'Network');
    const originSecret = new OriginSecret(this, 'OriginSecret').secret;

    this.host = new RelayHost(this, 'Host', {
      vpc: network.vpc,
      bundleDir: props.relayBundleDir,
      relayConfig: props.relayConfig,
      publicBaseUrl: `https://${props.apiDomain}`,
      imageBucket: props.images,
      originSecret,
      logGroupName: props.logGroupName,
      ssmPrefix: props.ssmPrefix,
      instanceType: props.instanceType,
      architecture: props.instanceArch,
      port: props.relayPort,
      cloudfrontPrefixListId: props.cloudfrontPrefixListId,
    });

    this.distribution = new RelayEdge(this, 'Edge', {
      originDomainName: this.host.publicDnsName,
      originPort: this.host.port,
      originProtocol: props.originProtocol,
      originReadTimeout: Duration.seconds(props.originReadTimeoutSeconds ?? 60),
      originSecret,
      imageBucket: props.images.bucket,
      domainName: props.apiDomain,
      certificate: props.certificate,
      logBucket: props.accessLogBucket,
      corsOrigins: props.corsOrigins,
      adminCidrs: props.adminCidrs,
    }).distribution;

    new ApiAliasRecords(this, 'ApiRecords', {
      zone: props.zone,
      domainName: props.apiDomain,
      distribution: this.distribution,
    });

    new CfnOutput(this, 'ApiBaseUrl', { value: `https://${props.apiDomain}/v1` });
    new CfnOutput(this, 'InstanceId', {
      value: this.host.instance.instanceId,
      description: 'aws ssm start-session --target <this id>',
    });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId });
    new CfnOutput(this, 'DistributionDomainName', {
      value: this.distribution.distributionDomainName,
    });
    new CfnOutput(this, 'ImageBucketName', { value: props.images.bucket.bucketName });
  }
}
