import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
export const CDK_DEFAULT_QUALIFIER = 'hnb659fds';

export interface GithubDeployRoleProps {
  /**
   * "owner/name", or "owner@ownerId/name@repoId" for a repository that uses GitHub's
   * immutable subject claims (the default for repositories created after 2026-07-15).
   */
  readonly repository: string;
  /**
   * GitHub environment whose jobs may deploy (jobs in an environment get `environment:<name>`
   * subjects). Only this subject is trusted: its required reviewers and branch rules are the gate.
   */
  readonly environment: string;
  /**
   * Longest session the deploy job may ask for; at least the job's timeout (deploy.yml).
   * @default Duration.hours(2)
   */
  readonly maxSessionDuration?: Duration;
  /** Qualifier of the `cdk bootstrap` roles this role may assume. */
  readonly bootstrapQualifier?: string;
  /**
   * An account holds one provider per issuer URL: pass the ARN of an existing one instead
   * of creating a second, which CloudFormation would reject.
   */
  readonly existingProviderArn?: string;
}

/** `owner/name`, or the immutable `owner@ownerId/name@repoId` (also checked by the deploy config). */
export const REPOSITORY_PATTERN =
  /^(?<owner>[A-Za-z0-9-]+)(?<ownerId>@\d+)?\/(?<name>[A-Za-z0-9._-]+)(?<repoId>@\d+)?$/;

/**
 * The one subject GitHub puts in the OIDC token of this repository's deploy jobs: jobs in the
 * environment. A `ref:refs/heads/<branch>` subject would let any workflow on that branch assume
 * the role without the environment's reviewers. With IDs given, only the immutable form is
 * trusted: the name-only form would let a recycled owner or repository name assume the role.
 */
export function githubSubjects(repository: string, environment: string): string[] {
  const match = REPOSITORY_PATTERN.exec(repository);
  if (!match?.groups) {
    throw new Error(
      `githubRepo must be "owner/name" or "owner@ownerId/name@repoId", got ${JSON.stringify(repository)}`,
    );
  }
  const { ownerId, repoId } = match.groups;
  if (Boolean(ownerId) !== Boolean(repoId)) {
    throw new Error(
      `githubRepo ${JSON.stringify(repository)}: give both the owner ID and the repository ID, or neither`,
    );
  }
  if (!environment.trim()) throw new Error('githubEnvironment must not be empty');
  return [`repo:${repository}:environment:${environment}`];
}

/** GitHub's OIDC provider and a role that GitHub Actions can only use to run `cdk deploy`. */
export class GithubDeployRole extends Construct {
  readonly role: iam.Role;
  readonly providerArn: string;

  constructor(scope: Construct, id: string, props: GithubDeployRoleProps) {
    super(scope, id);
    const subjects = githubSubjects(props.repository, props.environment);
    const qualifier = props.bootstrapQualifier ?? CDK_DEFAULT_QUALIFIER;

    const provider = props.existingProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingProviderArn)
      : new iam.OidcProviderNative(this, 'Provider', {
          url: `https://${GITHUB_OIDC_ISSUER}`,
          clientIds: [GITHUB_OIDC_AUDIENCE],
          // Other stacks' roles may trust the same provider; keep it if this stack goes.
          removalPolicy: RemovalPolicy.RETAIN,
        });
    this.providerArn = provider.oidcProviderArn;

    this.role = new iam.Role(this, 'Role', {
      description: `GitHub Actions deploys for ${props.repository} (cdk deploy via the bootstrap roles)`,
      // The job asks for as long as its timeout (deploy.yml): a deploy waiting on CloudFront and
      // the instance's creation signal must not lose its credentials half way.
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(2),
      assumedBy: new iam.FederatedPrincipal(
        this.providerArn,
        {
          StringEquals: {
            [`${GITHUB_OIDC_ISSUER}:aud`]: GITHUB_OIDC_AUDIENCE,
            [`${GITHUB_OIDC_ISSUER}:sub`]: subjects,
          },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
    });

    // The CLI does all real work through the bootstrap roles (deploy, file publishing,
    // lookup), in every region the app deploys to (the certificate stack is in us-east-1).
    const { partition, account } = Stack.of(this);
    const bootstrapRoles = `arn:${partition}:iam::${account}:role/cdk-${qualifier}-*`;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeCdkBootstrapRoles',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: [bootstrapRoles],
      }),
    );

    Validations.of(this.role).acknowledge({
      // cdk-nag names the finding after the resource as synthesized: tokens become <Ref>.
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::${Token.isUnresolved(account) ? '<AWS::AccountId>' : account}:role/cdk-${qualifier}-*]`,
      reason:
        'The wildcard covers only the cdk bootstrap roles of this qualifier (deploy, file-publishing, ' +
        'image-publishing, lookup), whose names end in account and region; the role can do nothing else.',
    });
  }
}
