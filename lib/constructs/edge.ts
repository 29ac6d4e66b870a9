import { Duration, Validations } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AdminAccess } from './admin-access.ts';
import { ORIGIN_SECRET_HEADER } from './origin-secret.ts';

export type OriginProtocol = 'http-only' | 'https-only' | 'match-viewer';

const ORIGIN_PROTOCOL: Record<OriginProtocol, cloudfront.OriginProtocolPolicy> = {
  'http-only': cloudfront.OriginProtocolPolicy.HTTP_ONLY,
  'https-only': cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
  'match-viewer': cloudfront.OriginProtocolPolicy.MATCH_VIEWER,
};

export interface RelayEdgeProps {
  /** Stable public DNS name of the relay host (never an IP: CloudFront origins are names). */
  readonly originDomainName: string;
  /** Port the relay listens on. */
  readonly originPort: number;
  /**
   * What the relay serves. The relay speaks plain HTTP; anything else gives 502.
   * @default 'http-only'
   */
  readonly originProtocol?: OriginProtocol;
  /**
   * Wait for the first byte and between bytes. Above 60 s needs a CloudFront quota increase.
   * @default Duration.seconds(60)
   */
  readonly originReadTimeout?: Duration;
  /** Secret CloudFront sends in the x-origin-secret header; the relay rejects requests without it. */
  readonly originSecret: secretsmanager.ISecret;
  /** Bucket holding generated images under images/. */
  readonly imageBucket: s3.IBucket;
  /** Custom domain, e.g. api.example.com. */
  readonly domainName: string;
  /** us-east-1 certificate for domainName. */
  readonly certificate: acm.ICertificate;
  /** Bucket for CloudFront standard access logs (ACLs enabled). */
  readonly logBucket: s3.IBucket;
  /**
   * Origins allowed by CORS.
   * @default ['*']
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Source CIDRs allowed to reach /admin (the console and its API), checked by a CloudFront
   * Function at the edge.
   * @default - any address (admin keys and the login rate limit still guard it)
   */
  readonly adminCidrs?: readonly string[];
}

/**
 * CloudFront in front of the relay host (/v1/*, never cached) and the image bucket (/images/*,
 * cached, through Origin Access Control), on the custom domain.
 */
export class RelayEdge extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: RelayEdgeProps) {
    super(scope, id);

    const relayOrigin = new origins.HttpOrigin(props.originDomainName, {
      protocolPolicy: ORIGIN_PROTOCOL[props.originProtocol ?? 'http-only'],
      httpPort: props.originPort,
      httpsPort: props.originPort,
      readTimeout: props.originReadTimeout ?? Duration.seconds(60),
      customHeaders: {
        // A dynamic reference: CloudFormation resolves it at deploy time; the template and the
        // synthesized assembly only ever contain {{resolve:secretsmanager:…}}.
        [ORIGIN_SECRET_HEADER]: props.originSecret.secretValue.unsafeUnwrap(),
      },
    });

    // The bucket lives in the stateful stack; its policy admits this account's distributions
    // (see ImageBucket), so the origin must not try to edit that policy from here.
    const imagesOac = new cloudfront.S3OriginAccessControl(this, 'ImagesOac', {
      description: 'llm-relay image bucket',
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    const imagesOrigin = origins.S3BucketOrigin.withBucketDefaults(props.imageBucket, {
      originAccessControlId: imagesOac.originAccessControlId,
    });

    const corsHeaders = new cloudfront.ResponseHeadersPolicy(this, 'Cors', {
      comment: 'llm-relay CORS for browser clients',
      corsBehavior: {
        accessControlAllowOrigins: [...(props.corsOrigins ?? ['*'])],
        accessControlAllowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        // SDKs send x-stainless-* and others; listing them would break the next SDK release.
        accessControlAllowHeaders: ['*'],
        accessControlExposeHeaders: ['x-request-id'],
        accessControlAllowCredentials: false,
        accessControlMaxAge: Duration.minutes(10),
        originOverride: true,
      },
    });

    const relayBehavior: cloudfront.BehaviorOptions = {
      origin: relayOrigin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Everything but Host: Authorization and SDK headers must reach the relay.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: corsHeaders,
      // CloudFront buffers to compress, which would hold back SSE chunks.
      compress: false,
    };

    // The console and its API: never cached, cookies and Authorization through, and no CORS
    // policy (the console is same-origin; the relay sets its own security headers).
    const adminAccess =
      props.adminCidrs && props.adminCidrs.length > 0
        ? new AdminAccess(this, 'AdminAccess', { cidrs: props.adminCidrs })
        : undefined;
    const adminBehavior: cloudfront.BehaviorOptions = {
      origin: relayOrigin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      // The relay gzips the console's files itself; CSV exports stream.
      compress: false,
      ...(adminAccess && {
        functionAssociations: [
          {
            function: adminAccess.function,
            eventType: cloudfront.FunctionEventType.VIEWER_REQUEST,
          },
        ],
      }),
    };

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `llm-relay ${props.domainName}`,
      domainNames: [props.domainName],
      certificate: props.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      defaultBehavior: relayBehavior,
      additionalBehaviors: {
        '/v1/*': relayBehavior,
        '/admin': adminBehavior,
        '/admin/*': adminBehavior,
        '/images/*': {
          origin: imagesOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
          cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
          responseHeadersPolicy: corsHeaders,
          compress: true,
        },
      },
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: 'cloudfront/',
    });

    const v = Validations.of(this.distribution);
    if ((props.originProtocol ?? 'http-only') !== 'https-only') {
      v.acknowledge({
        id: 'AwsSolutions-CFR5',
        reason:
          'The relay serves plain HTTP (an HTTPS origin needs a certificate for the EC2 host name, which does not exist); the origin accepts only CloudFront addresses carrying the secret header.',
      });
    }
    v.acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        "An API for the operator's own team and clients worldwide; geo restriction would block legitimate travelling users. Access is controlled by relay API keys.",
    });
    v.acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'WAF costs more than the single relay host; the relay authenticates every request with an API key and enforces quota, and the origin only accepts CloudFront with the secret header.',
    });
  }
}
