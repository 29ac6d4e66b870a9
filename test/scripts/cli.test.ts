import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SCRIPTS = ['logs', 'dns', 'secrets', 'keys-remote', 'check-deploy'];

/** Runs a script as `npm run <name>` would: its own Node process, a clean environment. */
function runScript(name: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', `${name}.ts`), ...args],
      // No profile, no IMDS: the credential chain must come up empty without network.
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: mkdtempSync(join(tmpdir(), 'home-')),
          AWS_EC2_METADATA_DISABLED: 'true',
          ...env,
        },
        timeout: 15_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('every ops script, run as a command', () => {
  it.each(SCRIPTS)('%s --help documents usage and the exit codes', async (name) => {
    const { code, stdout } = await runScript(name, ['--help'], {});
    expect(code).toBe(0);
    expect(stdout).toContain(`npm run ${name} -- `);
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toContain('3  missing or rejected AWS credentials, or no region');
  });

  it('says plainly that AWS credentials are missing, with exit 3', async () => {
    const { code, stderr } = await runScript('secrets', ['list'], {
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    });
    expect(code).toBe(3);
    expect(stderr.trim()).toBe(
      'error: No AWS credentials found. Set AWS_PROFILE (after `aws sso login` if it is an SSO profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
    );
  });

  it('says plainly that the region is missing, with exit 3', async () => {
    const { code, stderr } = await runScript('logs', ['--since', '5m'], {
      AWS_ACCESS_KEY_ID: 'AKIDFAKE',
      AWS_SECRET_ACCESS_KEY: 'fake',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    });
    expect(code).toBe(3);
    expect(stderr).toContain('No AWS region: pass --region, set AWS_REGION');
  });

  it('rejects an unknown option with exit 2 before any AWS call', async () => {
    const { code, stderr } = await runScript('dns', ['import', '--nope'], {});
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--nope'");
  });
});
