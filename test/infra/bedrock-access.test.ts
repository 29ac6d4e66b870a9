/**
 * Claude on Bedrock with no provider key: a relay config with bedrock channels gives the host
 * role exactly the four runtime actions on exactly the configured models (foundation models,
 * and inference profiles with their foundation models in every region they route to), no `*`
 * resource, and cdk-nag stays clean. Without a bedrock channel the role gets no Bedrock access.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantBedrockInvoke, PROFILE_REGIONS } from '../../lib/constructs/bedrock-access.ts';
import { joined, resourceNamed, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

const PROFILE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const BASE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

const relayConfig = {
  channels: [
    {
      name: 'bedrock',
      type: 'bedrock',
      region: 'us-east-1',
      models: ['amazon.nova-pro-v1:0'],
      modelMap: { 'claude-sonnet-4-5': PROFILE },
    },
    {
      name: 'bedrock-eu',
      type: 'bedrock',
      region: 'eu-west-1',
      models: ['global.anthropic.claude-haiku-4-5-20251001-v1:0'],
    },
  ],
};

/** The Bedrock statements of the host role's policy, with ARNs flattened to text. */
function bedrockStatements(s: Synthesized) {
  const policy = resourceNamed(s.relay, 'AWS::IAM::Policy', 'HostRoleDefaultPolicy');
  const doc = policy.resource.Properties!.PolicyDocument as {
    Statement: { Action: string | string[]; Resource: unknown }[];
  };
  return doc.Statement.filter((st) => [st.Action].flat().some((a) => a.startsWith('bedrock:'))).map(
    (st) => ({
      actions: [st.Action].flat(),
      resources: [st.Resource].flat().map(joined),
    }),
  );
}

describe('Bedrock access for the host role', () => {
  // One synth of the whole app, with cdk-nag: synths are the slow part of these tests.
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ context: { relayConfig }, nag: true });
  });

  it('grants exactly the four runtime actions on the configured models and their routes', () => {
    const statements = bedrockStatements(s);
    expect(statements).toHaveLength(1);
    const [st] = statements;
    expect(st!.actions.sort()).toEqual([
      'bedrock:Converse',
      'bedrock:ConverseStream',
      'bedrock:InvokeModel',
      'bedrock:InvokeModelWithResponseStream',
    ]);
    const expected = [
      'arn:<AWS::Partition>:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0',
      `arn:<AWS::Partition>:bedrock:us-east-1:<AWS::AccountId>:inference-profile/${PROFILE}`,
      ...PROFILE_REGIONS.us!.map(
        (r) => `arn:<AWS::Partition>:bedrock:${r}::foundation-model/${BASE}`,
      ),
      'arn:<AWS::Partition>:bedrock:eu-west-1:<AWS::AccountId>:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:<AWS::Partition>:bedrock:eu-west-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:<AWS::Partition>:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
    ];
    expect(st!.resources.sort()).toEqual(expected.sort());
    for (const arn of st!.resources) expect(arn).not.toContain('*');
  });

  const probeRole = () =>
    new iam.Role(new Stack(new App(), 'Probe'), 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    });

  it('gives a role no Bedrock access without a bedrock channel', () => {
    const role = probeRole();
    grantBedrockInvoke(role, {
      channels: [{ name: 'ds', baseUrl: 'https://x.test/v1', apiKey: 'env:K' }],
    });
    Template.fromStack(Stack.of(role)).resourceCountIs('AWS::IAM::Policy', 0);
  });

  it('refuses a model pattern on a bedrock channel: it would need a wildcard resource', () => {
    const patterned = {
      channels: [
        { name: 'b', type: 'bedrock', region: 'us-east-1', models: ['anthropic.claude-*'] },
      ],
    };
    expect(() => grantBedrockInvoke(probeRole(), patterned)).toThrow(
      /"anthropic\.claude-\*" is a pattern.*list each Bedrock model id/,
    );
  });

  it('refuses a profile of an unknown geography and an application inference profile', () => {
    const channel = (model: string) => ({
      channels: [{ name: 'b', type: 'bedrock', region: 'us-east-1', models: [model] }],
    });
    // Granted as a foundation model, "mx.anthropic.…" would be an ARN that does not exist.
    expect(() =>
      grantBedrockInvoke(probeRole(), channel('mx.anthropic.claude-sonnet-4-5-20250929-v1:0')),
    ).toThrow(/channel "b".*geography "mx".*add them to PROFILE_REGIONS/);
    expect(() =>
      grantBedrockInvoke(
        probeRole(),
        channel('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3'),
      ),
    ).toThrow(/application inference profile.*system inference profile or foundation model id/);
    // Foundation models of every provider stay grantable as they are.
    for (const model of ['meta.llama3-3-70b-instruct-v1:0', 'amazon.titan-text-express-v1'])
      expect(() => grantBedrockInvoke(probeRole(), channel(model))).not.toThrow();
  });

  it('stays cdk-nag clean with bedrock channels', () => {
    // The synth ran the AwsSolutions checks: an unacknowledged finding would have thrown.
    expect(() => s.app.synth({ force: true })).not.toThrow();
  });
});
