import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { runDns } from '../../scripts/dns.ts';
import { runKeysRemote } from '../../scripts/keys-remote.ts';
import { runLogs } from '../../scripts/logs.ts';
import { runSecrets } from '../../scripts/secrets.ts';
import type { Io } from '../../scripts/lib/cli.ts';
import { captureIo } from '../fixtures/io.ts';
import { synth } from '../infra/helpers.ts';

const guide = readFileSync(join(import.meta.dirname, '../../docs/deploy.md'), 'utf8');
const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
const scripts: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  logs: runLogs,
  dns: runDns,
  secrets: runSecrets,
  'keys-remote': runKeysRemote,
};

async function helpOf(name: string): Promise<string> {
  const io = captureIo(undefined);
  expect(await scripts[name]!(['--help'], io)).toBe(0);
  return io.out.join('\n');
}

/** Each `npm run <script> -- …` line of the guide, with the options given to the script itself. */
const invocations = [...guide.matchAll(/npm run (logs|dns|secrets|keys-remote) -- (.*)$/gm)].map(
  (m) => {
    const words = m[2]!.replace(/#.*$/, '').trim().split(/\s+/);
    const own = words.includes('--') ? words.slice(0, words.indexOf('--')) : words;
    return { script: m[1]!, line: m[0], options: own.filter((w) => w.startsWith('--')) };
  },
);

describe('docs/deploy.md', () => {
  it('shows every ops script', () => {
    expect(new Set(invocations.map((i) => i.script))).toEqual(new Set(Object.keys(scripts)));
  });

  it.each(invocations)(
    '$line uses only options the script documents',
    async ({ script, options }) => {
      const help = await helpOf(script);
      for (const option of options) expect(help, option).toContain(option);
    },
  );

  it('names the context keys the contracts define', () => {
    for (const key of [
      'apiDomain',
      'hostedZoneName',
      'ssmPrefix',
      'logGroupName',
      'githubRepo',
      'githubEnvironment',
      'availabilityZone',
      'waf',
    ]) {
      expect(guide).toContain(`"${key}"`);
    }
  });

  it('reads only stack outputs that exist, from stacks that exist, under their real names', () => {
    // The app as the guide configures it: a created zone (NameServers) and the deploy role stack.
    const { stacks } = synth({ context: { githubRepo: 'your-org/llm-relay' } });
    const outputs = new Map(
      Object.values(stacks).map((stack) => [
        stack.stackName,
        // ExportsOutput* and PublishOutput* are CDK's own cross-stack references (strong and
        // weak), not outputs for people.
        Object.keys(Template.fromStack(stack).toJSON().Outputs ?? {}).filter(
          (key) => !/^(Exports|Publish)Output/.test(key),
        ),
      ]),
    );
    expect([...outputs.keys()].sort()).toEqual([
      'LlmRelay-Certificate',
      'LlmRelay-GithubDeploy',
      'LlmRelay-Monitoring',
      'LlmRelay-Relay',
      'LlmRelay-Stateful',
    ]);

    const reads = [...guide.matchAll(/\boutput ([A-Z]\w+) ([A-Z]\w+)\b/g)].map((m) => [
      m[1]!,
      m[2]!,
    ]);
    expect(reads.length).toBeGreaterThanOrEqual(6);
    for (const [stack, key] of reads) {
      expect(outputs.get(`LlmRelay-${stack}`), `output ${stack} ${key}`).toContain(key);
    }
    // The tables of outputs (the guide's, and the README's stack table, whose last column is
    // the outputs) list each stack's outputs exactly.
    for (const [doc, text] of [
      ['docs/deploy.md', guide],
      ['README.md', readme],
    ] as const) {
      for (const [name, keys] of outputs) {
        const row = new RegExp(`^\\| \`${name}\` +\\|.*\\|([^|]*)\\|$`, 'm').exec(text);
        expect(row, `${doc}: ${name}`).not.toBeNull();
        const listed = [...row![1]!.matchAll(/`([A-Z]\w+)`/g)].map((m) => m[1]);
        expect(listed.sort(), `${doc}: ${name}`).toEqual([...keys].sort());
      }
    }
    for (const [, name] of guide.matchAll(/npx cdk deploy (LlmRelay-\w+)/g)) {
      expect(outputs.has(name!), name).toBe(true);
    }
  }, 60_000);

  it('does not tell anyone to build before cdk deploy: the CDK app bundles the relay itself', () => {
    expect(readFileSync(join(import.meta.dirname, '../../bin/relay.ts'), 'utf8')).toContain(
      'await buildRelay()',
    );
    expect(guide).not.toContain('npm run build');
  });

  it('bootstraps the main region and us-east-1, and covers the prefix list outside us-east-1/us-west-2', () => {
    expect(guide).toMatch(
      /npx cdk bootstrap aws:\/\/\$ACCOUNT\/eu-west-1 aws:\/\/\$ACCOUNT\/us-east-1/,
    );
    expect(guide).toContain('"cloudfrontPrefixListId"');
    expect(guide).toContain('com.amazonaws.global.cloudfront.origin-facing');
  });
});
