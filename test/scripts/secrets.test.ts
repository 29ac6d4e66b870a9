import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSecrets } from '../../scripts/secrets.ts';
import { startFakeSsm } from '../fixtures/aws/ssm.ts';
import type { FakeSsm } from '../fixtures/aws/ssm.ts';
import { captureIo } from '../fixtures/io.ts';

const SECRET = 'sk-live-DO-NOT-PRINT-0123456789';

let ssm: FakeSsm;
beforeEach(async () => {
  ssm = await startFakeSsm({ instances: [], pageSize: 2 });
});
afterEach(() => ssm.close());

async function secrets(args: string[], overrides: Parameters<typeof captureIo>[1] = {}) {
  const io = captureIo(ssm.endpoint, overrides);
  const code = await runSecrets(args, io);
  const printed = [...io.out, ...io.err, io.progress()].join('\n');
  return { code, io, printed };
}

describe('secrets put', () => {
  it('stores a provider key from stdin as a SecureString under <prefix>/env/<NAME> without printing it', async () => {
    const { code, io, printed } = await secrets(['put', 'DEEPSEEK_API_KEY'], {
      readStdin: async () => `${SECRET}\n`,
    });
    expect(code).toBe(0);
    expect(ssm.parameters.get('/llm-relay/env/DEEPSEEK_API_KEY')).toMatchObject({
      Type: 'SecureString',
      Value: SECRET,
    });
    expect(io.out[0]).toBe('put /llm-relay/env/DEEPSEEK_API_KEY (SecureString, version 1)');
    expect(printed).not.toContain(SECRET);
  });

  it('takes the value from a named environment variable, a custom prefix and a KMS key', async () => {
    const { code, printed } = await secrets(
      [
        'put',
        'OPENAI_API_KEY',
        '--from-env',
        'MY_OPENAI',
        '--prefix',
        '/team-relay',
        '--kms-key-id',
        'alias/relay',
      ],
      { env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: ssm.endpoint, MY_OPENAI: SECRET } },
    );
    expect(code).toBe(0);
    expect(ssm.parameters.get('/team-relay/env/OPENAI_API_KEY')).toMatchObject({
      Value: SECRET,
      KeyId: 'alias/relay',
    });
    expect(printed).not.toContain(SECRET);
  });

  it('writes nothing in a dry run, and refuses bad names and empty values with exit 2', async () => {
    const dry = await secrets(['put', 'DEEPSEEK_API_KEY', '--dry-run'], {
      readStdin: async () => SECRET,
    });
    expect(dry.code).toBe(0);
    expect(dry.io.out).toEqual([
      'dry run: would put /llm-relay/env/DEEPSEEK_API_KEY (SecureString, value hidden)',
    ]);
    expect(dry.printed).not.toContain(SECRET);
    expect((await secrets(['put', 'deepseek-key'], { readStdin: async () => SECRET })).code).toBe(
      2,
    );
    expect((await secrets(['put', 'EMPTY'], { readStdin: async () => '\n' })).code).toBe(2);
    expect((await secrets(['put', 'X', '--from-env', 'UNSET_VAR'])).code).toBe(2);
    expect(ssm.requests).toHaveLength(0);
  });

  it('refuses names the host sets itself, before any AWS call', async () => {
    // The stack's origin secret comes from Secrets Manager; a parameter would override it.
    const origin = await secrets(['put', 'RELAY_ORIGIN_SECRET'], { readStdin: async () => SECRET });
    expect(origin.code).toBe(2);
    expect(origin.io.err[0]).toMatch(
      /^error: RELAY_ORIGIN_SECRET is set by the relay host itself .*Secrets Manager/,
    );
    for (const name of ['RELAY_DATA_DIR', 'PORT', 'AWS_ACCESS_KEY_ID']) {
      expect((await secrets(['put', name], { readStdin: async () => 'x' })).code, name).toBe(2);
    }
    expect(origin.printed).not.toContain(SECRET);
    expect(ssm.requests).toHaveLength(0);
  });

  it.each([
    ['a newline inside', `${SECRET}\nsecond-line`, 'contains a control character (newline, tab…)'],
    ['a tab', `${SECRET}\tx`, 'contains a control character (newline, tab…)'],
    ['surrounding spaces', ` ${SECRET}`, 'starts or ends with whitespace'],
    ['a backslash', `${SECRET}\\x`, 'contains a backslash'],
    ['a leading quote', `"${SECRET}`, 'starts with a quote'],
  ])(
    'refuses a value with %s (the host env file would change it), naming the variable, never the value',
    async (_what, value, problem) => {
      const { code, io, printed } = await secrets(['put', 'DEEPSEEK_API_KEY'], {
        readStdin: async () => value,
      });
      expect(code).toBe(2);
      expect(io.err).toEqual([
        `error: the value for DEEPSEEK_API_KEY ${problem}, which the host's environment file cannot carry unchanged`,
      ]);
      expect(printed).not.toContain(SECRET);
      expect(ssm.requests).toHaveLength(0);
    },
  );
});

describe('secrets import, list, delete', () => {
  it('imports an env file with a progress bar, lists names across pages without values, deletes one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    const file = join(dir, 'providers.env');
    writeFileSync(
      file,
      `# provider keys\nDEEPSEEK_API_KEY=${SECRET}\nexport OPENAI_API_KEY="sk-openai-quoted"\n\nMOONSHOT_API_KEY='sk-moon'\n`,
    );
    const bad = join(dir, 'bad.env');
    writeFileSync(bad, `OPENAI_API_KEY=sk-fine\nDEEPSEEK_API_KEY= ${SECRET}\\\n`);
    const refused = await secrets(['import', bad]);
    expect(refused.code).toBe(2);
    expect(refused.io.err).toEqual([
      "error: line 2: the value for DEEPSEEK_API_KEY contains a backslash, which the host's environment file cannot carry unchanged",
    ]);
    expect(refused.printed).not.toContain(SECRET);
    expect(ssm.requests).toHaveLength(0);

    const imported = await secrets(['import', file]);
    expect(imported.code).toBe(0);
    expect([...ssm.parameters.keys()]).toEqual([
      '/llm-relay/env/DEEPSEEK_API_KEY',
      '/llm-relay/env/OPENAI_API_KEY',
      '/llm-relay/env/MOONSHOT_API_KEY',
    ]);
    expect(ssm.parameters.get('/llm-relay/env/OPENAI_API_KEY')!.Value).toBe('sk-openai-quoted');
    expect(imported.io.progress()).toContain('ssm [');
    expect(imported.io.progress()).toContain('3/3');
    expect(imported.printed).not.toMatch(/sk-(live|openai|moon)/);

    const listed = await secrets(['list']);
    expect(listed.code).toBe(0);
    expect(listed.io.out.slice(2).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['/llm-relay/env/DEEPSEEK_API_KEY', 'SecureString', '1'],
      ['/llm-relay/env/MOONSHOT_API_KEY', 'SecureString', '1'],
      ['/llm-relay/env/OPENAI_API_KEY', 'SecureString', '1'],
    ]);
    const pages = ssm.requests.filter((r) => r.operation === 'AmazonSSM.GetParametersByPath');
    expect(pages.map((r) => JSON.parse(r.body))).toMatchObject([
      { Path: '/llm-relay/env', Recursive: true, WithDecryption: false },
      { NextToken: '2', WithDecryption: false },
    ]);
    expect(listed.printed).not.toMatch(/sk-|CIPHERTEXT/);

    expect((await secrets(['delete', 'MOONSHOT_API_KEY', '--dry-run'])).io.out).toEqual([
      'dry run: would delete /llm-relay/env/MOONSHOT_API_KEY',
    ]);
    expect(ssm.parameters.size).toBe(3);
    expect((await secrets(['delete', 'MOONSHOT_API_KEY'])).code).toBe(0);
    expect(ssm.parameters.has('/llm-relay/env/MOONSHOT_API_KEY')).toBe(false);
    const missing = await secrets(['delete', 'MOONSHOT_API_KEY']);
    expect(missing.code).toBe(4);
    expect(missing.io.err[0]).toBe(
      'error: parameter /llm-relay/env/MOONSHOT_API_KEY does not exist',
    );
  });
});

describe('secrets admin-key', () => {
  it('puts a new random ADMIN_KEY and prints it once, for the first console login', async () => {
    const { code, io } = await secrets(['admin-key']);
    expect(code).toBe(0);
    const stored = ssm.parameters.get('/llm-relay/env/ADMIN_KEY');
    expect(stored).toMatchObject({ Type: 'SecureString' });
    const key = stored!.Value as string;
    expect(key).toMatch(/^relay-admin-[\w-]{32}$/);
    expect(io.out.filter((line) => line.includes(key))).toEqual([key]);
    const again = await secrets(['admin-key']);
    expect(again.code).toBe(0);
    expect(ssm.parameters.get('/llm-relay/env/ADMIN_KEY')!.Value).not.toBe(key);
  });

  it('takes a chosen key from an environment variable without printing it, and checks it', async () => {
    const env = { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: ssm.endpoint };
    const chosen = await secrets(['admin-key', '--from-env', 'MINE', '--prefix', '/team'], {
      env: { ...env, MINE: SECRET },
    });
    expect(chosen.code).toBe(0);
    expect(ssm.parameters.get('/team/env/ADMIN_KEY')!.Value).toBe(SECRET);
    expect(chosen.printed).not.toContain(SECRET);
    const short = await secrets(['admin-key', '--from-env', 'MINE'], {
      env: { ...env, MINE: 'short' },
    });
    expect(short.code).toBe(2);
    expect((await secrets(['admin-key', 'EXTRA'])).code).toBe(2);
    const dry = await secrets(['admin-key', '--dry-run']);
    expect(dry.io.out).toEqual([
      'dry run: would put /llm-relay/env/ADMIN_KEY (SecureString, value hidden)',
    ]);
    expect(ssm.parameters.has('/llm-relay/env/ADMIN_KEY')).toBe(false);
  });
});
