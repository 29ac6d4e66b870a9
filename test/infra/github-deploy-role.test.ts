import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { githubSubjects } from '../../lib/constructs/github-deploy-role.ts';
import { GithubDeployStack } from '../../lib/github-deploy-stack.ts';

const env = { account: '111122223333', region: 'eu-west-1' };

function synth(
  repository: string,
  extra: { existingProviderArn?: string } = {},
  { nag = false, stackEnv = env as typeof env | undefined } = {},
) {
  const app = new App();
  // Plugins must be in place before the first synthesis: later synth() calls reuse it.
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new GithubDeployStack(app, 'GithubDeploy', {
    env: stackEnv,
    repository,
    environment: 'production',
    ...extra,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

function trustStatement(template: Template) {
  const roles = Object.values(template.findResources('AWS::IAM::Role'));
  expect(roles).toHaveLength(1);
  const statements = roles[0]!.Properties.AssumeRolePolicyDocument.Statement as unknown[];
  expect(statements).toHaveLength(1);
  return statements[0] as {
    Action: string;
    Effect: string;
    Principal: { Federated: unknown };
    Condition: Record<string, Record<string, unknown>>;
  };
}

describe('GitHub deploy role stack', () => {
  it('creates the native GitHub OIDC provider with the STS audience', () => {
    const { template } = synth('acme/llm-relay');
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
    template.resourceCountIs('Custom::AWSCDKOpenIdConnectProvider', 0);
  });

  it('trusts only web identities from that provider, with the audience and the environment subject pinned by StringEquals', () => {
    const { template } = synth('acme/llm-relay');
    const trust = trustStatement(template);
    expect(trust.Effect).toBe('Allow');
    expect(trust.Action).toBe('sts:AssumeRoleWithWebIdentity');
    const [providerId] = Object.keys(template.findResources('AWS::IAM::OIDCProvider'));
    // Ref of AWS::IAM::OIDCProvider is its ARN.
    expect(trust.Principal.Federated).toEqual({ Ref: providerId });
    expect(Object.keys(trust.Condition)).toEqual(['StringEquals']);
    expect(trust.Condition.StringEquals).toEqual({
      'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
      'token.actions.githubusercontent.com:sub': ['repo:acme/llm-relay:environment:production'],
    });
  });

  it('never trusts a branch subject: any workflow on main could skip the environment reviewers', () => {
    const { template } = synth('acme/llm-relay');
    expect(JSON.stringify(trustStatement(template))).not.toContain(':ref:');
    expect(JSON.stringify(trustStatement(template))).not.toMatch(/StringLike|\*/);
  });

  it('lets a session last as long as the deploy job may run (deploy.yml timeout-minutes)', () => {
    const workflow = readFileSync(
      new URL('../../.github/workflows/deploy.yml', import.meta.url),
      'utf8',
    );
    const timeoutMinutes = Number(/^ {4}timeout-minutes: (\d+)$/m.exec(workflow)?.[1]);
    const requested = Number(/^ {10}role-duration-seconds: (\d+)$/m.exec(workflow)?.[1]);
    expect(timeoutMinutes).toBeGreaterThan(0);
    expect(requested).toBeGreaterThanOrEqual(timeoutMinutes * 60);
    const role = Object.values(
      synth('acme/llm-relay').template.findResources('AWS::IAM::Role'),
    )[0]!;
    expect(role.Properties.MaxSessionDuration).toBeGreaterThanOrEqual(requested);
  });

  it('uses only the immutable subject form when the repository is given with owner and repository IDs', () => {
    const { template } = synth('acme@123456/llm-relay@456789');
    expect(
      trustStatement(template).Condition.StringEquals!['token.actions.githubusercontent.com:sub'],
    ).toEqual(['repo:acme@123456/llm-relay@456789:environment:production']);
  });

  it('may only assume the cdk bootstrap roles of the account', () => {
    const { template } = synth('acme/llm-relay');
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.Properties.PolicyDocument.Statement as unknown[];
    expect(statements).toEqual([
      {
        Sid: 'AssumeCdkBootstrapRoles',
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:role/cdk-hnb659fds-*'],
          ],
        },
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('reuses an existing provider instead of creating a second one for the same issuer', () => {
    const arn = 'arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com';
    const { template } = synth('acme/llm-relay', { existingProviderArn: arn });
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(trustStatement(template).Principal.Federated).toBe(arn);
  });

  it('outputs the role ARN for the repository variable', () => {
    const { template } = synth('acme/llm-relay');
    template.hasOutput('RoleArn', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('Role'), 'Arn'] },
    });
  });

  it('rejects repository names that would produce a subject GitHub never issues', () => {
    expect(() => githubSubjects('llm-relay', 'production')).toThrow(/githubRepo/);
    expect(() => githubSubjects('acme/llm-relay@1', 'production')).toThrow(/both the owner ID/);
    expect(() => githubSubjects('acme/llm-relay', ' ')).toThrow(/githubEnvironment/);
  });

  it('passes cdk-nag AwsSolutions with every acknowledgement carrying a reason', () => {
    // Synthesis throws «ValidationFailed» on any unacknowledged finding.
    expect(() => synth('acme/llm-relay', {}, { nag: true })).not.toThrow();
    expect(() => synth('acme@1/llm-relay@2', {}, { nag: true, stackEnv: undefined })).not.toThrow();
  });
});
