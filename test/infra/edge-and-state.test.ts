import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { joined, onlyResource, resourceNamed, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

// Managed policy ids CloudFront documents; the behaviors must use exactly these.
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

interface Behavior {
  PathPattern?: string;
  TargetOriginId: string;
  CachePolicyId: string;
  OriginRequestPolicyId?: string;
  AllowedMethods: string[];
  Compress: boolean;
  ViewerProtocolPolicy: string;
  ResponseHeadersPolicyId: unknown;
}
interface DistributionConfig {
  Aliases: string[];
  DefaultCacheBehavior: Behavior;
  CacheBehaviors: Behavior[];
  Origins: Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  ViewerCertificate: Record<string, unknown>;
  Logging: Record<string, unknown>;
  HttpVersion: string;
  WebACLId?: unknown;
}

describe('edge, DNS and state', () => {
  let s: Synthesized;
  let dist: DistributionConfig;
  beforeAll(() => {
    s = synth();
    dist = onlyResource(s.relay, 'AWS::CloudFront::Distribution').resource.Properties!
      .DistributionConfig as DistributionConfig;
  });

  const origin = (id: string) => dist.Origins.find((o) => o.Id === id)!;
  const behavior = (path: string) => dist.CacheBehaviors.find((b) => b.PathPattern === path)!;

  describe('CloudFront → relay host', () => {
    it('reaches the instance through a VPC origin by default: plain HTTP to its private address, inside AWS', () => {
      const instance = onlyResource(s.relay, 'AWS::EC2::Instance').logicalId;
      const vpcOrigin = onlyResource(s.relay, 'AWS::CloudFront::VpcOrigin');
      const relay = origin(dist.DefaultCacheBehavior.TargetOriginId);
      expect(relay.DomainName).toEqual({ 'Fn::GetAtt': [instance, 'PrivateDnsName'] });
      expect(relay.CustomOriginConfig).toBeUndefined();
      expect(relay.VpcOriginConfig).toEqual({
        VpcOriginId: { 'Fn::GetAtt': [vpcOrigin.logicalId, 'Id'] },
        OriginReadTimeout: 60,
      });
      const endpoint = vpcOrigin.resource.Properties!.VpcOriginEndpointConfig as Record<
        string,
        unknown
      >;
      expect(joined(endpoint.Arn)).toBe(
        `arn:<AWS::Partition>:ec2:us-east-1:<AWS::AccountId>:instance/<${instance}>`,
      );
      expect(endpoint).toMatchObject({ HTTPPort: 8787, OriginProtocolPolicy: 'http-only' });
    });

    it("keeps the public-DNS origin as an option: the Elastic IP's own name, plain HTTP, the prefix list", () => {
      const pub = synth({ context: { originType: 'public-dns', originReadTimeoutSeconds: 30 } });
      const relayOriginOf = (x: Synthesized) => {
        const d = onlyResource(x.relay, 'AWS::CloudFront::Distribution').resource.Properties!
          .DistributionConfig as DistributionConfig;
        return d.Origins.find((o) => o.Id === d.DefaultCacheBehavior.TargetOriginId)!;
      };
      const relay = relayOriginOf(pub);
      // Built from the Elastic IP, not the instance's PublicDnsName: a replaced instance keeps it.
      const eip = onlyResource(pub.relay, 'AWS::EC2::EIP').logicalId;
      expect(relay.DomainName).toEqual({
        'Fn::Join': [
          '',
          [
            'ec2-',
            { 'Fn::Join': ['-', { 'Fn::Split': ['.', { Ref: eip }] }] },
            '.compute-1.amazonaws.com',
          ],
        ],
      });
      expect(JSON.stringify(relay.DomainName)).not.toContain('Instance');
      const eu = synth({
        context: {
          originType: 'public-dns',
          region: 'eu-west-1',
          cloudfrontPrefixListId: 'pl-4fa04526',
        },
      });
      expect(JSON.stringify(relayOriginOf(eu).DomainName)).toContain(
        '".eu-west-1.compute.amazonaws.com"',
      );
      expect(relay.CustomOriginConfig).toMatchObject({
        OriginProtocolPolicy: 'http-only',
        HTTPPort: 8787,
        OriginReadTimeout: 30,
      });
      pub.relay.resourceCountIs('AWS::CloudFront::VpcOrigin', 0);
      pub.relay.resourceCountIs('Custom::AWS', 0);
    });

    it('sends the origin secret header through a Secrets Manager dynamic reference', () => {
      const secret = onlyResource(s.relay, 'AWS::SecretsManager::Secret');
      const relay = origin(dist.DefaultCacheBehavior.TargetOriginId);
      expect(relay.OriginCustomHeaders).toHaveLength(1);
      expect(relay.OriginCustomHeaders[0].HeaderName).toBe('x-origin-secret');
      expect(joined(relay.OriginCustomHeaders[0].HeaderValue)).toBe(
        `{{resolve:secretsmanager:<${secret.logicalId}>:SecretString:::}}`,
      );
      expect(secret.resource.Properties!.GenerateSecretString).toMatchObject({
        ExcludePunctuation: true,
        PasswordLength: 48,
      });
      expect(secret.resource.Properties!.SecretString).toBeUndefined();
    });

    it('/v1/* is never cached, forwards every viewer header but Host, allows all methods, no compression', () => {
      for (const b of [behavior('/v1/*'), dist.DefaultCacheBehavior]) {
        expect(b).toMatchObject({
          CachePolicyId: CACHING_DISABLED,
          OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
          Compress: false,
          ViewerProtocolPolicy: 'redirect-to-https',
          TargetOriginId: dist.DefaultCacheBehavior.TargetOriginId,
        });
        expect([...b.AllowedMethods].sort()).toEqual(
          ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'].sort(),
        );
      }
    });

    it('routes every relay path but /images/* to the relay, uncached and with Authorization', () => {
      // CloudFront tries the cache behaviors in order and falls back to the default one.
      const glob = (pattern: string) =>
        new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const route = (path: string) =>
        dist.CacheBehaviors.find((b) => glob(b.PathPattern!).test(path)) ??
        dist.DefaultCacheBehavior;
      expect(dist.CacheBehaviors.map((b) => b.PathPattern)).toEqual([
        '/v1/*',
        '/admin',
        '/admin/*',
        '/images/*',
      ]);
      const relayOrigin = dist.DefaultCacheBehavior.TargetOriginId;
      for (const path of [
        '/v1/chat/completions',
        '/chat/completions',
        '/dashboard/billing/subscription',
        '/v1/dashboard/billing/usage',
        '/healthz',
        '/admin',
        '/admin/api/keys',
        '/',
      ]) {
        expect(route(path), path).toMatchObject({
          TargetOriginId: relayOrigin,
          CachePolicyId: CACHING_DISABLED,
          OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
          Compress: false,
        });
      }
      const image = route('/images/2026/01/02/abc.png');
      expect(image.TargetOriginId).not.toBe(relayOrigin);
      expect(origin(image.TargetOriginId).S3OriginConfig).toBeDefined();
    });

    it('leaves the response completion timeout unset, so a stream lives as long as it sends', () => {
      const relay = origin(dist.DefaultCacheBehavior.TargetOriginId);
      expect(relay.ResponseCompletionTimeout).toBeUndefined();
    });

    it('follows originReadTimeoutSeconds from context, and refuses origin protocols that can only 502', () => {
      const other = synth({ context: { originReadTimeoutSeconds: 30 } });
      other.relay.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: {
          Origins: Match.arrayWith([
            Match.objectLike({ VpcOriginConfig: Match.objectLike({ OriginReadTimeout: 30 }) }),
          ]),
        },
      });
      for (const originProtocol of ['https-only', 'match-viewer']) {
        expect(() => synth({ context: { originProtocol } })).toThrow(/must be http-only/);
      }
    });
  });

  describe('CloudFront → image bucket', () => {
    it('/images/* reads the bucket through Origin Access Control and is cached', () => {
      const images = behavior('/images/*');
      expect(images).toMatchObject({ CachePolicyId: CACHING_OPTIMIZED, Compress: true });
      expect(images.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS']);
      const o = origin(images.TargetOriginId);
      const oac = onlyResource(s.relay, 'AWS::CloudFront::OriginAccessControl');
      expect(o.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oac.logicalId, 'Id'] });
      expect(o.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
      expect(joined(o.DomainName)).toMatch(/<import:.*ImagesBucket.*RegionalDomainName/);
      expect(oac.resource.Properties!.OriginAccessControlConfig).toMatchObject({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      });
    });

    it('the bucket policy lets CloudFront (this account only) read images/* and nothing else', () => {
      const policy = resourceNamed(s.stateful, 'AWS::S3::BucketPolicy', 'ImagesBucketPolicy');
      const bucket = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'ImagesBucket').logicalId;
      expect(policy.resource.Properties!.Bucket).toEqual({ Ref: bucket });
      const statements = (
        policy.resource.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] }
      ).Statement;
      const cf = statements.filter((st) => JSON.stringify(st.Principal).includes('cloudfront'));
      expect(cf).toHaveLength(1);
      expect(cf[0]).toMatchObject({ Effect: 'Allow', Action: 's3:GetObject' });
      expect(joined(cf[0]!.Resource)).toBe(`<${bucket}.Arn>/images/*`);
      expect(
        joined(
          (cf[0]!.Condition as Record<string, Record<string, unknown>>).ArnLike!['AWS:SourceArn'],
        ),
      ).toBe('arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/*');
    });
  });

  describe('viewer side', () => {
    it('redirects HTTP to HTTPS with TLS 1.2+, the ACM certificate and the custom domain', () => {
      expect(dist.Aliases).toEqual(['api.example.com']);
      expect(dist.ViewerCertificate).toMatchObject({
        MinimumProtocolVersion: 'TLSv1.2_2021',
        SslSupportMethod: 'sni-only',
      });
      expect(joined(dist.ViewerCertificate.AcmCertificateArn)).toMatch(
        /^<output:LlmRelay-Certificate@us-east-1:.*ApiCertificate/,
      );
    });

    it("leaves the API's CORS to the relay: no response headers policy on any relay path", () => {
      // A policy there overrides the relay's own CORS; its "Allow-Headers: *" never covers
      // Authorization (Fetch spec), so browser SDKs fail their preflight (see cors-browser.test.ts).
      for (const b of [dist.DefaultCacheBehavior, behavior('/v1/*')]) {
        expect(b.ResponseHeadersPolicyId).toBeUndefined();
      }
    });

    it('adds CORS for images only, for the configured origins', () => {
      const policy = onlyResource(s.relay, 'AWS::CloudFront::ResponseHeadersPolicy');
      expect(behavior('/images/*').ResponseHeadersPolicyId).toEqual({ Ref: policy.logicalId });
      const cors = (
        policy.resource.Properties!.ResponseHeadersPolicyConfig as {
          CorsConfig: Record<string, { Items: string[] }>;
        }
      ).CorsConfig;
      expect(cors.AccessControlAllowOrigins!.Items).toEqual(['*']);
      expect(cors.AccessControlAllowMethods!.Items).toEqual(['GET', 'HEAD', 'OPTIONS']);

      const other = synth({ context: { corsOrigins: ['https://chat.example.com'] } });
      other.relay.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
        ResponseHeadersPolicyConfig: {
          CorsConfig: Match.objectLike({
            AccessControlAllowOrigins: { Items: ['https://chat.example.com'] },
          }),
        },
      });
    });

    it('writes standard access logs to the access-log bucket', () => {
      expect(joined(dist.Logging.Bucket)).toMatch(/<import:.*AccessLogsBucket.*RegionalDomainName/);
      expect(dist.Logging.Prefix).toBe('cloudfront/');
    });
  });

  describe('certificate', () => {
    it('lives in us-east-1 and is DNS-validated in the hosted zone', () => {
      expect(s.stacks.certificate.region).toBe('us-east-1');
      const cert = onlyResource(s.certificate, 'AWS::CertificateManager::Certificate');
      expect(cert.resource.Properties).toMatchObject({
        DomainName: 'api.example.com',
        ValidationMethod: 'DNS',
      });
      const options = cert.resource.Properties!.DomainValidationOptions as {
        HostedZoneId: unknown;
      }[];
      expect(joined(options[0]!.HostedZoneId)).toMatch(
        /<output:LlmRelay-Stateful@us-east-1:.*Zone/,
      );
    });

    it('stays in us-east-1 when everything else is elsewhere, with cross-region references', () => {
      const eu = synth({ context: { region: 'eu-west-1', cloudfrontPrefixListId: 'pl-4fa04526' } });
      expect(eu.stacks.certificate.region).toBe('us-east-1');
      expect(eu.stacks.relay.region).toBe('eu-west-1');
      expect(eu.stacks.stateful.region).toBe('eu-west-1');
      // The zone id reaches the certificate stack as a weak reference: no export reader.
      eu.certificate.resourceCountIs('Custom::CrossRegionExportReader', 0);
    });

    it('reads the hosted zone id weakly, so a new zone (another name, an imported id) can deploy', () => {
      for (const region of ['eu-west-1', 'us-east-1']) {
        const x = synth({ context: { region, cloudfrontPrefixListId: 'pl-4fa04526' } });
        const zone = onlyResource(x.stateful, 'AWS::Route53::HostedZone').logicalId;
        const outputs = x.stateful.toJSON().Outputs as Record<
          string,
          { Value: unknown; Export?: unknown }
        >;
        // An export in use cannot change; the cross-region ExportsWriter refuses the same. The
        // one export left is the old strong reference's, kept for stacks deployed before: no
        // stack imports it any more, so it may change with the zone.
        const exported = Object.values(outputs).filter(
          (o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: zone }) && o.Export,
        );
        expect(exported.map((o) => o.Export)).toEqual([
          { Name: 'LlmRelay-Stateful:ExportsOutputRefDnsZone1A7256CF27D1D164' },
        ]);
        x.stateful.resourceCountIs('Custom::CrossRegionExportWriter', 0);
        for (const t of [x.relay, x.certificate]) {
          expect(JSON.stringify(t.toJSON())).not.toMatch(/ImportValue[^}]*Zone/);
          t.resourceCountIs('Custom::CrossRegionExportReader', 0);
        }
        const record = Object.values(x.relay.findResources('AWS::Route53::RecordSet'))[0]!;
        expect(joined(record.Properties.HostedZoneId)).toMatch(
          new RegExp(`^<output:LlmRelay-Stateful@${region}:\\w+>$`),
        );
        expect(x.stacks.certificate.dependencies).toContain(x.stacks.stateful);
        expect(x.stacks.relay.dependencies).toContain(x.stacks.stateful);
      }
    });

    it('gives the relay stack the certificate and web ACL ARNs as weak references, which never block replacing them', () => {
      for (const region of ['eu-west-1', 'us-east-1']) {
        const x = synth({ context: { region, cloudfrontPrefixListId: 'pl-4fa04526' } });
        const d = onlyResource(x.relay, 'AWS::CloudFront::Distribution').resource.Properties!
          .DistributionConfig as DistributionConfig;
        // Fn::GetStackOutput, read when the relay stack deploys: no export, no ExportsWriter
        // parameter that would refuse a new value while the relay stack uses the old one.
        const certificateOutputs = x.certificate.toJSON().Outputs as Record<
          string,
          { Value: unknown }
        >;
        const cert = onlyResource(x.certificate, 'AWS::CertificateManager::Certificate').logicalId;
        const acl = onlyResource(x.certificate, 'AWS::WAFv2::WebACL').logicalId;
        const read = (value: unknown) => {
          const m = /^<output:LlmRelay-Certificate@us-east-1:(\w+)>$/.exec(joined(value));
          expect(m, `${region}: ${joined(value)}`).not.toBeNull();
          return certificateOutputs[m![1]!]!.Value;
        };
        expect(read(d.ViewerCertificate.AcmCertificateArn)).toEqual({ Ref: cert });
        expect(read(d.WebACLId)).toEqual({ 'Fn::GetAtt': [acl, 'Arn'] });
        const json = JSON.stringify(x.relay.toJSON());
        expect(json).not.toContain('Fn::ImportValue":"LlmRelay-Certificate');
        x.relay.resourceCountIs('Custom::CrossRegionExportReader', 0);
        x.certificate.resourceCountIs('Custom::CrossRegionExportWriter', 0);
        for (const o of Object.values(certificateOutputs)) expect(o).not.toHaveProperty('Export');
        // The relay stack still deploys after the certificate stack.
        expect(x.stacks.relay.dependencies).toContain(x.stacks.certificate);
      }
    });
  });

  describe('DNS', () => {
    it('creates the hosted zone by default, retained (its name servers are at the registrar)', () => {
      const created = onlyResource(s.stateful, 'AWS::Route53::HostedZone').resource;
      expect(created.DeletionPolicy).toBe('Retain');
      expect(created.UpdateReplacePolicy).toBe('Retain');
    });

    it('outputs the name servers of the created zone', () => {
      s.stateful.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'example.com.' });
      const zone = onlyResource(s.stateful, 'AWS::Route53::HostedZone').logicalId;
      expect(s.stateful.findOutputs('NameServers').NameServers!.Value).toEqual({
        'Fn::Join': [',', { 'Fn::GetAtt': [zone, 'NameServers'] }],
      });
    });

    it('imports the zone by id and name from context, without creating one', () => {
      const imported = synth({
        context: { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' },
      });
      imported.stateful.resourceCountIs('AWS::Route53::HostedZone', 0);
      expect(imported.stateful.findOutputs('NameServers')).toEqual({});
      imported.relay.hasResourceProperties('AWS::Route53::RecordSet', {
        HostedZoneId: 'Z0123456789ABCDEFGHIJ',
        Type: 'A',
      });
      imported.certificate.hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainValidationOptions: [
          { DomainName: 'api.example.com', HostedZoneId: 'Z0123456789ABCDEFGHIJ' },
        ],
      });
    });

    it('points A and AAAA alias records for the API domain at the distribution', () => {
      const distribution = onlyResource(s.relay, 'AWS::CloudFront::Distribution').logicalId;
      for (const type of ['A', 'AAAA']) {
        s.relay.hasResourceProperties('AWS::Route53::RecordSet', {
          Name: 'api.example.com.',
          Type: type,
          AliasTarget: {
            DNSName: { 'Fn::GetAtt': [distribution, 'DomainName'] },
            HostedZoneId: Match.anyValue(),
          },
        });
      }
      s.relay.resourceCountIs('AWS::Route53::RecordSet', 2);
    });
  });

  describe('stateful stack', () => {
    it('has termination protection on, as has the relay stack', () => {
      expect(s.stacks.stateful.terminationProtection).toBe(true);
      expect(s.stacks.relay.terminationProtection).toBe(true);
    });

    it('keeps images private, encrypted, TLS-only, unversioned, expiring, with CORS for GET', () => {
      const bucket = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'ImagesBucket').resource;
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
        LifecycleConfiguration: {
          Rules: [
            expect.objectContaining({ Prefix: 'images/', ExpirationInDays: 90, Status: 'Enabled' }),
            expect.objectContaining({
              Prefix: 'backups/',
              ExpirationInDays: 35,
              Status: 'Enabled',
            }),
          ],
        },
        CorsConfiguration: {
          CorsRules: [
            expect.objectContaining({ AllowedMethods: ['GET', 'HEAD'], AllowedOrigins: ['*'] }),
          ],
        },
      });
      expect(bucket.Properties!.VersioningConfiguration).toBeUndefined();
      const policy = resourceNamed(s.stateful, 'AWS::S3::BucketPolicy', 'ImagesBucketPolicy')
        .resource.Properties!;
      expect(JSON.stringify(policy)).toContain('"aws:SecureTransport":"false"');
    });

    it('follows imageExpirationDays and backupRetentionDays from context', () => {
      const other = synth({ context: { imageExpirationDays: 7, backupRetentionDays: 14 } });
      other.stateful.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({ Prefix: 'images/', ExpirationInDays: 7 }),
            Match.objectLike({ Prefix: 'backups/', ExpirationInDays: 14 }),
          ],
        },
      });
    });

    it('has an access-log bucket that takes CloudFront logs and the image bucket server access logs', () => {
      const logs = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'AccessLogsBucket');
      expect(logs.resource.Properties).toMatchObject({
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
        LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 90 })] },
      });
      const images = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'ImagesBucket').resource;
      expect(images.Properties!.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logs.logicalId },
        LogFilePrefix: 's3/images/',
      });
    });

    it('creates the relay log group with the configured retention', () => {
      s.stateful.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/llm-relay/relay',
        RetentionInDays: 30,
      });
      const other = synth({ context: { logGroupName: '/acme/relay', logRetentionDays: 90 } });
      other.stateful.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/acme/relay',
        RetentionInDays: 90,
      });
    });

    it('gives every relay-stack log group a retention', () => {
      for (const group of Object.values(s.relay.findResources('AWS::Logs::LogGroup'))) {
        expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
      }
    });

    it('offers the image writer policy: put/get on images/* of this bucket only', () => {
      const bucket = resourceNamed(s.stateful, 'AWS::S3::Bucket', 'ImagesBucket').logicalId;
      const policy = resourceNamed(s.stateful, 'AWS::IAM::ManagedPolicy', 'ImagesWriterPolicy')
        .resource.Properties!;
      expect((policy.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
        {
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/images/*']] },
        },
      ]);
    });
  });

  describe('outputs', () => {
    it('give the API base URL, instance id, bucket and dashboard URL', () => {
      const relayOutputs = s.relay.findOutputs('*');
      expect(relayOutputs.ApiBaseUrl!.Value).toBe('https://api.example.com/v1');
      expect(relayOutputs.InstanceId!.Value).toEqual({
        Ref: onlyResource(s.relay, 'AWS::EC2::Instance').logicalId,
      });
      expect(joined(relayOutputs.ImageBucketName!.Value)).toMatch(/ImagesBucket/);
      expect(joined(s.stateful.findOutputs('ImageBucketName').ImageBucketName!.Value)).toMatch(
        /ImagesBucket/,
      );
      expect(joined(s.monitoring.findOutputs('DashboardUrl').DashboardUrl!.Value)).toMatch(
        /^https:\/\/us-east-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1#dashboards:name=<.*Dashboard.*>$/,
      );
    });
  });
});
