import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { GithubDeployRole } from './constructs/github-deploy-role.ts';

export interface GithubDeployStackProps extends StackProps {
  /** Context `githubRepo`: "owner/name" or "owner@ownerId/name@repoId". */
  readonly repository: string;
  /** Context `githubEnvironment`, default "production". */
  readonly environment: string;
  readonly bootstrapQualifier?: string;
  readonly existingProviderArn?: string;
}

/** Deployed once by hand; its RoleArn output becomes the repository variable AWS_DEPLOY_ROLE_ARN. */
export class GithubDeployStack extends Stack {
  readonly roleArn: string;

  constructor(scope: Construct, id: string, props: GithubDeployStackProps) {
    super(scope, id, props);
    const deploy = new GithubDeployRole(this, 'GithubDeploy', {
      repository: props.repository,
      environment: props.environment,
      bootstrapQualifier: props.bootstrapQualifier,
      existingProviderArn: props.existingProviderArn,
    });
    this.roleArn = deploy.role.roleArn;
    new CfnOutput(this, 'RoleArn', {
      value: deploy.role.roleArn,
      description: 'Set as the GitHub repository variable AWS_DEPLOY_ROLE_ARN',
    });
    new CfnOutput(this, 'OidcProviderArn', { value: deploy.providerArn });
  }
}
