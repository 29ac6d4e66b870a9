import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDns } from '../../scripts/dns.ts';
import { runKeysRemote } from '../../scripts/keys-remote.ts';
import { runLogs } from '../../scripts/logs.ts';
import { runSecrets } from '../../scripts/secrets.ts';
import type { Io } from '../../scripts/lib/cli.ts';
import { captureIo } from '../fixtures/io.ts';

const guide = readFileSync(join(import.meta.dirname, '../../docs/deploy.md'), 'utf8');
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
      'githubBranch',
      'githubEnvironment',
    ]) {
      expect(guide).toContain(`"${key}"`);
    }
  });
});
