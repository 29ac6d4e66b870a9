import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synth } from './helpers.ts';

describe('the deploy-role stack in the composed app', () => {
  it('is left out unless context names the GitHub repository', () => {
    expect(synth().stacks.githubDeploy).toBeUndefined();
  });

  it('is added with the repository and environment from context', () => {
    const { stacks } = synth({
      context: { githubRepo: 'octo-org/llm-relay', githubEnvironment: 'prod' },
    });
    expect(stacks.githubDeploy?.stackName).toBe('LlmRelay-GithubDeploy');
    const trust = JSON.stringify(
      Template.fromStack(stacks.githubDeploy!).findResources('AWS::IAM::Role'),
    );
    expect(trust).toContain('repo:octo-org/llm-relay:environment:prod');
    expect(trust).not.toContain('refs/heads');
  });
});
