import { Duration, Validations } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AdminAccess } from './admin-access.ts';

export interface RelayEdgeProps {
  /** The relay host as an origin (see RelayOrigin): plain HTTP with the origin secret header. */
  readonly relayOrigin: cloudfront.IOrigin;
  /** Bucket holding generated images under images/. */
  readonly imageBucket: s3.IBucket;
  /** Custom domain, e.g. api.example.com. */
  readonly domainName: string;
  /** us-east-1 certificate for domainName. */
  readonly certificate: acm.ICertificate;
  /** Bucket for CloudFront standard access logs (ACLs enabled). */
  readonly logBucket: s3.IBucket;
  /**
   * Origins allowed to read images from a browser (the relay answers CORS for its API itself).
   * @default ['*']
   */
  readonly corsOrigins?: readonly string[];
  /**
   * ARN of a CLOUDFRONT-scope WAF web ACL (us-east-1) to attach.
   * @default - no web ACL
   */
  readonly webAclArn?: string;
  /**
   * Source CIDRs allowed to reach /admin (the console and its API), checked by a CloudFront
   * Function at the edge.
   * @default - any address (admin keys and the login rate limit still guard it)
   */
  readonly adminCidrs?: readonly string[];
}

/**
 * CloudFront in front of the relay host (everything but /images/*, never cached) and the image
 * bucket (/images/*, cached, through Origin Access Control), on the custom domain.
 */
export class RelayEdge extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: RelayEdgeProps) {
    super(scope, id);

    // The bucket lives in the stateful stack; its policy admits this account's distributions
    // (see ImageBucket), so the origin must not try to edit that policy from here.
    const imagesOac = new cloudfront.S3OriginAccessControl(this, 'ImagesOac', {
      description: 'llm-relay image bucket',
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    const imagesOrigin = origins.S3BucketOrigin.withBucketDefaults(props.imageBucket, {
      originAccessControlId: imagesOac.originAccessControlId,
    });

    // Images only: they are plain GETs without credentials. The API's CORS is the relay's own
    // (it echoes the requested headers, Authorization included, and exposes x-request-id,
    // retry-after, x-ratelimit-* and x-relay-overhead-ms); a policy here would override it with
    // "Allow-Headers: *", which under the Fetch spec never covers Authorization.
    const imageCors = new cloudfront.ResponseHeadersPolicy(this, 'ImageCors', {
      comment: 'llm-relay CORS for images read by browsers',
      corsBehavior: {
        accessControlAllowOrigins: [...(props.corsOrigins ?? ['*'])],
        accessControlAllowMethods: ['GET', 'HEAD', 'OPTIONS'],
        accessControlAllowHeaders: ['*'],
        accessControlExposeHeaders: ['content-length', 'etag'],
        accessControlAllowCredentials: false,
        accessControlMaxAge: Duration.minutes(10),
        originOverride: true,
      },
    });

    const relayBehavior: cloudfront.BehaviorOptions = {
      origin: props.relayOrigin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Everything but Host: Authorization, Origin, the preflight's Access-Control-Request-*
      // and SDK headers must reach the relay, which answers CORS itself.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
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
      ...relayBehavior,
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
          responseHeadersPolicy: imageCors,
          compress: true,
        },
      },
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: 'cloudfront/',
      ...(props.webAclArn && { webAclId: props.webAclArn }),
    });

    const v = Validations.of(this.distribution);
    v.acknowledge({
      id: 'AwsSolutions-CFR5',
      reason:
        'The relay serves plain HTTP (an HTTPS origin needs a certificate for the host name, which does not exist); by default the hop is a VPC origin inside AWS, and the relay checks the secret header.',
    });
    v.acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        "An API for the operator's own team and clients worldwide; geo restriction would block legitimate travelling users. Access is controlled by relay API keys.",
    });
    if (!props.webAclArn) {
      v.acknowledge({
        id: 'AwsSolutions-CFR2',
        reason:
          'The operator turned the WAF off (context waf=false); the relay authenticates every request with an API key, enforces quota and rpm, and the origin only accepts CloudFront.',
      });
    }
  }
}
