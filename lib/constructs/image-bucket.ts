import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.ts';

/** Key prefix of generated images; CloudFront's /images/* path maps onto it unchanged. */
export const IMAGE_KEY_PREFIX = 'images/';

export interface ImageBucketProps {
  /** Bucket that receives S3 server access logs. */
  readonly accessLogBucket: s3.IBucket;
  /**
   * Days after which generated images are deleted; clients get the URL once and rarely come back.
   * @default 90
   */
  readonly expirationDays?: number;
  /**
   * Origins allowed to GET images from a browser.
   * @default ['*']
   */
  readonly corsOrigins?: readonly string[];
}

/** Private bucket for generated images; read through CloudFront (OAC), written by the relay. */
export class ImageBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** What the relay's S3 image store needs and nothing more; attach it to the relay host's role. */
  readonly writerPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ImageBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 's3/images/',
      lifecycleRules: [
        {
          prefix: IMAGE_KEY_PREFIX,
          expiration: Duration.days(props.expirationDays ?? 90),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      cors: [
        {
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: [...(props.corsOrigins ?? ['*'])],
          allowedHeaders: ['*'],
          maxAge: 3600,
        },
      ],
      // Images are user data: deleting the stack must not delete them.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudFront reads through Origin Access Control. The distribution lives in a later stack;
    // naming its id here would make the stacks depend on each other, so the grant admits this
    // account's distributions (the pattern CDK itself uses for OAC key policies).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontOriginAccessControlRead',
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${IMAGE_KEY_PREFIX}*`)],
        conditions: {
          ArnLike: {
            'AWS:SourceArn': `arn:${Aws.PARTITION}:cloudfront::${Aws.ACCOUNT_ID}:distribution/*`,
          },
        },
      }),
    );

    const images = this.bucket.arnForObjects(`${IMAGE_KEY_PREFIX}*`);
    this.writerPolicy = new iam.ManagedPolicy(this, 'WriterPolicy', {
      description: 'llm-relay image store: put and get objects under images/ only',
      statements: [
        new iam.PolicyStatement({
          // Multipart uploads (large images) need the abort; everything else is put/get.
          actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
          resources: [images],
        }),
      ],
    });
    acknowledgeWildcardResource(
      this.writerPolicy,
      images,
      'Object keys are generated per image (images/yyyy/mm/dd/<id>.<ext>); the grant is confined to that prefix of this one bucket.',
    );
  }
}
