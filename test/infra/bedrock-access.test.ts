/**
 * Claude on Bedrock with no provider key: a relay config with bedrock channels gives the host
 * role exactly the four runtime actions on exactly the configured models (foundation models,
 * and inference profiles with their foundation models in every region they route to), no `*`
 * resource, and cdk-nag stays clean. Without a bedrock channel the role gets no Bedrock access.
 */
import { describe, expect, it } from 'vitest';
import { PROFILE_REGIONS } from '../../lib/constructs/bedrock-access.ts';
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
  it('grants exactly the four runtime actions on the configured models and their routes', () => {
    const statements = bedrockStatements(synth({ context: { relayConfig } }));
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

  it('gives the role no Bedrock access without a bedrock channel', () => {
    expect(bedrockStatements(synth())).toEqual([]);
  });

  it('refuses a model pattern on a bedrock channel: it would need a wildcard resource', () => {
    const patterned = {
      channels: [
        { name: 'b', type: 'bedrock', region: 'us-east-1', models: ['anthropic.claude-*'] },
      ],
    };
    expect(() => synth({ context: { relayConfig: patterned } })).toThrow(
      /"anthropic\.claude-\*" is a pattern.*list each Bedrock model id/,
    );
  });

  it('stays cdk-nag clean with bedrock channels', () => {
    const s = synth({ context: { relayConfig }, nag: true });
    expect(() => s.app.synth({ force: true })).not.toThrow();
  });
});
