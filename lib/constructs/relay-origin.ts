import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { IConstruct } from 'constructs';
import { ORIGIN_SECRET_HEADER } from './origin-secret.ts';

/** Name of the AWS-managed prefix list of CloudFront's origin-facing addresses. */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

/**
 * - `vpc-origin`: CloudFront reaches the host on its private address inside AWS's network; the
 *   host admits its own private subnet's range, where CloudFront's VPC-origin interfaces sit and
 *   which nothing from the internet can reach (no public addresses, no inbound route).
 * - `public-dns`: CloudFront reaches the host's public name over the internet; the host admits
 *   CloudFront's origin-facing address ranges.
 * Either way the hop is plain HTTP to a relay that serves plain HTTP, with the origin secret.
 */
export type RelayOriginType = 'vpc-origin' | 'public-dns';

export interface RelayOriginProps {
  /** The single host (one of `instance` and `loadBalancer`). */
  readonly instance?: ec2.Instance;
  /** A fleet's internal load balancer (VPC origin only). */
  readonly loadBalancer?: elbv2.IApplicationLoadBalancer;
  /** The group of the instance or load balancer that CloudFront connects to. */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly vpc: ec2.IVpc;
  /**
   * The origin's private subnets (the host's one, or the load balancer's): with the VPC origin,
   * the ranges admitted, as CloudFront puts its interfaces there.
   */
  readonly subnets: readonly ec2.ISubnet[];
  /** Port the origin listens on (the relay's, or the load balancer listener's). */
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
  /** The rules that admit the VPC origin's interfaces, one per subnet (VPC origin only). */
  readonly vpcOriginIngress: readonly ec2.CfnSecurityGroupIngress[] = [];

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
        endpoint: props.loadBalancer
          ? cloudfront.VpcOriginEndpoint.applicationLoadBalancer(props.loadBalancer)
          : cloudfront.VpcOriginEndpoint.ec2Instance(originInstance(props)),
        httpPort: props.port,
        httpsPort: props.port,
        // The relay serves plain HTTP; this hop stays inside AWS's network.
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      });
      this.origin = origins.VpcOrigin.withVpcOrigin(this.vpcOrigin, common);
      this.vpcOriginIngress = this.admitVpcOrigin(props);
      return;
    }
    if (props.loadBalancer) {
      throw new Error('An internal load balancer is reached through a VPC origin only');
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
    for (const rule of this.vpcOriginIngress) distribution.node.addDependency(rule);
  }

  /**
   * Opens the relay port to the host's private subnet, where CloudFront puts the VPC origin's
   * network interfaces. Not CloudFront's managed `CloudFront-VPCOrigins-Service-SG`: CloudFormation
   * does not return its id, and the CDK documentation warns it may only exist once the
   * distribution is deployed, so a lookup right after the VPC origin could fail the first deploy.
   * The subnet has no public addresses and no inbound route from the internet; the host is alone
   * in it besides CloudFront's interfaces.
   */
  private admitVpcOrigin(props: RelayOriginProps): ec2.CfnSecurityGroupIngress[] {
    const { subnets, securityGroup, port } = props;
    // Standalone resources the distribution can depend on (see admitBefore).
    return subnets.map(
      (subnet, i) =>
        new ec2.CfnSecurityGroupIngress(this, i === 0 ? 'FromVpcOrigin' : `FromVpcOrigin${i + 1}`, {
          groupId: securityGroup.securityGroupId,
          ipProtocol: 'tcp',
          fromPort: port,
          toPort: port,
          cidrIp: subnet.ipv4CidrBlock,
          description:
            subnets.length === 1
              ? 'CloudFront VPC origin interfaces in the private subnet only'
              : `CloudFront VPC origin interfaces in private subnet ${i + 1}`,
        }),
    );
  }
}

function originInstance(props: RelayOriginProps): ec2.Instance {
  if (!props.instance) throw new Error('RelayOrigin needs an instance or a load balancer');
  return props.instance;
}
