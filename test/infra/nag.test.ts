import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { synth } from './helpers.ts';

const ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY;

function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === ACKNOWLEDGED)
      .flatMap((m) =>
        // Recorded as { "<namespace>::<rule>": reason }.
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^[\w-]+::/, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('a finding nobody acknowledged fails synth (so a clean synth below means something)', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    new s3.Bucket(stack, 'Unlogged');
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it.each([
    ['the cdk.json defaults', {}],
    [
      'another region with an imported zone, email alarms and a relay config',
      {
        region: 'eu-west-1',
        cloudfrontPrefixListId: 'pl-4fa04526',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName: 'example.com',
        alarmEmail: 'ops@example.com',
        relayConfig: {
          channels: [
            {
              name: 'ds',
              baseUrl: 'https://api.deepseek.com/v1',
              apiKey: 'env:DEEPSEEK_API_KEY',
              models: ['deepseek-chat'],
            },
          ],
        },
      },
    ],
    [
      'the public-DNS origin, no WAF, a chosen zone and a GitHub deploy role',
      {
        originType: 'public-dns',
        waf: false,
        availabilityZone: 'us-east-1b',
        githubRepo: 'acme/llm-relay',
      },
    ],
  ])('has zero unacknowledged findings with %s', (_name, context) => {
    const s = synth({ context, nag: true });
    // Template.fromStack synthesized the app with the plugin: any finding would have thrown.
    expect(() => s.app.synth({ force: true })).not.toThrow();
  });

  it('every acknowledgement is specific: one rule, its own reason', () => {
    const s = synth({ nag: true });
    const acks = acknowledgements(s.app).filter((a) => a.id.startsWith('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(5);
    for (const ack of acks) {
      expect(ack.id).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(40);
    }
    // No blanket reason copied across unrelated rules.
    const reasonsByRule = new Map<string, Set<string>>();
    for (const ack of acks) {
      const rule = ack.id.replace(/\[.*$/, '');
      reasonsByRule.set(ack.reason, (reasonsByRule.get(ack.reason) ?? new Set()).add(rule));
    }
    for (const [reason, rules] of reasonsByRule) {
      // The asset-read reason covers the three IAM5 findings of one CDK-generated statement.
      expect(rules.size, reason).toBe(1);
    }
  });
});
