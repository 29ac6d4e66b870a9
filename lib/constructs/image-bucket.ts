import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.ts';

/** Key prefix of generated images; CloudFront's /images/* path maps onto it unchanged. */
export const IMAGE_KEY_PREFIX = 'images/';
/** Key prefix of the relay's database backups: never served (OAC reads images/* only). */
export const BACKUP_KEY_PREFIX = 'backups/';

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
  /**
   * Days after which database backups under backups/ are deleted.
   * @default 35
   */
  readonly backupExpirationDays?: number;
}

/**
 * Private bucket for generated images, read through CloudFront (OAC) and written by the relay;
 * also where the relay puts its hourly database backups, under a prefix of their own.
 */
export class ImageBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** What the relay's S3 image store needs and nothing more; attach it to the relay host's role. */
  readonly writerPolicy: iam.ManagedPolicy;
  /** What the relay's database backups need: write, list and read back under backups/ only. */
  readonly backupPolicy: iam.ManagedPolicy;

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
        {
          prefix: BACKUP_KEY_PREFIX,
          expiration: Duration.days(props.backupExpirationDays ?? 35),
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

    const backups = this.bucket.arnForObjects(`${BACKUP_KEY_PREFIX}*`);
    this.backupPolicy = new iam.ManagedPolicy(this, 'BackupPolicy', {
      description: 'llm-relay database backups: put, get and list under backups/ only',
      statements: [
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
          resources: [backups],
        }),
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [this.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${BACKUP_KEY_PREFIX}*`] } },
        }),
      ],
    });
    acknowledgeWildcardResource(
      this.backupPolicy,
      backups,
      'One object per hourly backup (backups/sqlite/yyyy/mm/dd/relay-<time>.db.gz); the grant is confined to that prefix of this one bucket.',
    );
  }
}
