import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { IConstruct } from 'constructs';
import { ORIGIN_SECRET_HEADER } from './origin-secret.ts';

/** Name of the AWS-managed prefix list of CloudFront's origin-facing addresses. */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';
/** Construct id of the singleton function behind AwsCustomResource (fixed in aws-cdk-lib). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';
/** The security group CloudFront creates in a VPC for its VPC origins (one per VPC). */
export const VPC_ORIGINS_SERVICE_SG = 'CloudFront-VPCOrigins-Service-SG';

/**
 * - `vpc-origin`: CloudFront reaches the host on its private address inside AWS's network; the
 *   host admits only the VPC origin's security group, nothing from the internet.
 * - `public-dns`: CloudFront reaches the host's public name over the internet; the host admits
 *   CloudFront's origin-facing address ranges.
 * Either way the hop is plain HTTP to a relay that serves plain HTTP, with the origin secret.
 */
export type RelayOriginType = 'vpc-origin' | 'public-dns';

export interface RelayOriginProps {
  readonly instance: ec2.Instance;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly vpc: ec2.IVpc;
  /** Port the relay listens on. */
  readonly port: number;
  /**
   * Public DNS name of the host's Elastic IP (required by the public-DNS origin, unused by the VPC
   * origin).
   */
  readonly publicDnsName?: string;
  /** Secret CloudFront sends in the x-origin-secret header; the relay rejects requests without it. */
  readonly originSecret: secretsmanager.ISecret;
  /**
   * @default 'vpc-origin'
   */
  readonly type?: RelayOriginType;
  /**
   * Wait for the first byte and between bytes. Above 60 s needs a CloudFront quota increase.
   * @default Duration.seconds(60)
   */
  readonly readTimeout?: Duration;
  /**
   * Id of the CloudFront origin-facing prefix list in this region (public-DNS origin only).
   * @default - looked up by name (a context lookup; needs an account in the stack's env)
   */
  readonly cloudfrontPrefixListId?: string;
}

/** The relay host as a CloudFront origin, and the one ingress rule that lets CloudFront in. */
export class RelayOrigin extends Construct {
  readonly origin: cloudfront.IOrigin;
  readonly type: RelayOriginType;
  /** The AWS::CloudFront::VpcOrigin resource (VPC origin only). */
  readonly vpcOrigin?: cloudfront.VpcOrigin;
  /** The rule that admits the VPC origin's security group (VPC origin only). */
  readonly vpcOriginIngress?: ec2.CfnSecurityGroupIngress;

  constructor(scope: Construct, id: string, props: RelayOriginProps) {
    super(scope, id);
    this.type = props.type ?? 'vpc-origin';
    const common = {
      readTimeout: props.readTimeout ?? Duration.seconds(60),
      customHeaders: {
        // A dynamic reference: CloudFormation resolves it at deploy time; the template and the
        // synthesized assembly only ever contain {{resolve:secretsmanager:…}}.
        [ORIGIN_SECRET_HEADER]: props.originSecret.secretValue.unsafeUnwrap(),
      },
    };

    if (this.type === 'vpc-origin') {
      this.vpcOrigin = new cloudfront.VpcOrigin(this, 'VpcOrigin', {
        endpoint: cloudfront.VpcOriginEndpoint.ec2Instance(props.instance),
        httpPort: props.port,
        httpsPort: props.port,
        // The relay serves plain HTTP; this hop stays inside AWS's network.
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      });
      this.origin = origins.VpcOrigin.withVpcOrigin(this.vpcOrigin, common);
      this.vpcOriginIngress = this.admitVpcOrigin(this.vpcOrigin, props);
      return;
    }

    if (!props.publicDnsName) {
      throw new Error(
        'The public-DNS origin needs the public DNS name of the host (publicDnsName)',
      );
    }
    this.origin = new origins.HttpOrigin(props.publicDnsName, {
      ...common,
      // HTTPS to a host serving HTTP (or without a certificate for its own name) is a 502.
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      httpPort: props.port,
      httpsPort: props.port,
    });
    const prefixListId =
      props.cloudfrontPrefixListId ??
      ec2.PrefixList.fromLookup(this, 'CloudFrontPrefixList', {
        prefixListName: CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST,
      }).prefixListId;
    // One rule for one port: the prefix list weighs ~55 of a group's 60 rules.
    props.securityGroup.addIngressRule(
      ec2.Peer.prefixList(prefixListId),
      ec2.Port.tcp(props.port),
      'CloudFront origin-facing addresses only',
    );
  }

  /**
   * Makes `distribution` wait for the host's ingress rule, so no version of the distribution
   * sends requests to a VPC origin the host does not admit yet. Nothing to wait for with the
   * public-DNS origin (its rule is part of the security group).
   */
  admitBefore(distribution: IConstruct): void {
    if (this.vpcOriginIngress) distribution.node.addDependency(this.vpcOriginIngress);
  }

  /**
   * Opens the relay port to CloudFront's VPC origin security group. CloudFront creates that group
   * in the VPC with the (first) VPC origin, and CloudFormation does not return its id, so it is
   * looked up by name (the pattern the CDK documentation gives) as soon as the VPC origin exists:
   * before the distribution, which depends on the rule.
   */
  private admitVpcOrigin(
    vpcOrigin: cloudfront.VpcOrigin,
    props: RelayOriginProps,
  ): ec2.CfnSecurityGroupIngress {
    const { vpc, securityGroup, port } = props;
    const call: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'DescribeSecurityGroups',
      parameters: {
        Filters: [
          { Name: 'vpc-id', Values: [vpc.vpcId] },
          { Name: 'group-name', Values: [VPC_ORIGINS_SERVICE_SG] },
        ],
      },
      physicalResourceId: cr.PhysicalResourceId.of(`${VPC_ORIGINS_SERVICE_SG}-lookup`),
      outputPaths: ['SecurityGroups.0.GroupId'],
    };
    const lookup = new cr.AwsCustomResource(this, 'VpcOriginSecurityGroup', {
      onCreate: call,
      onUpdate: call,
      // DescribeSecurityGroups has no resource-level permissions.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({
        resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE,
      }),
      installLatestAwsSdk: false,
      // The function's own log, kept a month like the VPC's flow logs, gone with the stack.
      logGroup: new logs.LogGroup(this, 'LookupLog', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    lookup.node.addDependency(vpcOrigin);
    // A standalone ingress resource: inline in the group, the group would depend on the lookup,
    // which depends on the VPC origin, the instance, and the group again.
    const ingress = new ec2.CfnSecurityGroupIngress(this, 'FromVpcOrigin', {
      groupId: securityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: port,
      toPort: port,
      sourceSecurityGroupId: lookup.getResponseField('SecurityGroups.0.GroupId'),
      description: 'CloudFront VPC origin only',
    });
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeSecurityGroups supports no resource-level permissions; the lookup function can only read security group descriptions.',
    });
    // The function behind every AwsCustomResource of the stack (one, here).
    const provider = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's AwsCustomResource function: the AWS-maintained policy only lets it write its own CloudWatch logs.",
      });
    }
    return ingress;
  }
}
