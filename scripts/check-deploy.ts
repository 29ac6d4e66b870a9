import { readFileSync } from 'node:fs';
import { CliError, EXIT, defineScript, processIo, sleep } from './lib/cli.ts';
import { parseDuration } from './lib/time.ts';

const USAGE = `Checks that a deploy is live: polls the API's /healthz through CloudFront until it
answers 200 with the build id the deploy shipped (the host switches releases a minute or two
after CloudFormation finishes, and rolls back a release that does not come up healthy).

Usage:
  npx cdk deploy ... --outputs-file cdk-outputs.json
  npm run check-deploy -- --outputs cdk-outputs.json [--timeout 15m] [--interval 15s]

Options:
  --outputs FILE     the outputs file cdk deploy wrote; the <stackPrefix>-Relay stack's
                     ApiBaseUrl and RelayBuild outputs say where to look and what to expect
  --timeout D        give up after this long (default 15m)
  --interval D       wait between tries (default 15s)`;

const OPTIONS = {
  outputs: { type: 'string' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
} as const;

interface Expected {
  readonly stack: string;
  readonly healthz: string;
  readonly build: string;
}

/** The relay stack's outputs in a `cdk deploy --outputs-file` file. */
function expectedFrom(path: string): Expected {
  let outputs: Record<string, Record<string, string>>;
  try {
    outputs = JSON.parse(readFileSync(path, 'utf8')) as typeof outputs;
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.usage);
  }
  const found = Object.entries(outputs).filter(([, o]) => o.RelayBuild && o.ApiBaseUrl);
  if (found.length !== 1) {
    throw new CliError(
      `${path} must hold exactly one stack with ApiBaseUrl and RelayBuild outputs (found ${found.length})`,
      EXIT.notFound,
    );
  }
  const [stack, o] = found[0]!;
  return { stack, healthz: new URL('/healthz', o.ApiBaseUrl).toString(), build: o.RelayBuild! };
}

export const runCheckDeploy = defineScript({
  usage: USAGE,
  options: OPTIONS,
  async run({ values }, io) {
    if (!values.outputs) throw new CliError('missing --outputs (see --help)', EXIT.usage);
    const expected = expectedFrom(values.outputs);
    const timeoutMs = parseDuration(values.timeout ?? '15m', '--timeout');
    const intervalMs = parseDuration(values.interval ?? '15s', '--interval');
    const now = io.now ?? Date.now;
    const deadline = now() + timeoutMs;
    io.stdout(`Waiting for ${expected.healthz} to report build ${expected.build}`);
    for (let attempt = 1; ; attempt++) {
      const seen = await probe(expected.healthz);
      if (seen.status === 200 && seen.build === expected.build) {
        io.stdout(`ok: ${expected.stack} serves build ${expected.build} (try ${attempt})`);
        return EXIT.ok;
      }
      io.stdout(`try ${attempt}: ${seen.describe}`);
      if (now() + intervalMs > deadline || io.signal?.aborted) break;
      await sleep(intervalMs, io.signal);
    }
    io.stderr(
      `error: ${expected.healthz} did not report build ${expected.build} in ${values.timeout ?? '15m'}; ` +
        'see /var/log/cfn-init.log and cfn-hup.log on the host (the release may have been rolled back)',
    );
    // cfn-hup runs cfn-init once per metadata change: after a fix on the host (or a transient
    // failure), either re-run the deploy (deploy.yml's deployNonce changes the metadata) or
    // run cfn-init by hand, exactly as cfn-hup's hook does.
    io.stderr(
      `to retry the activation: re-run the deploy, or in a session on the host:\n  ${CFN_INIT_RERUN}`,
    );
    return EXIT.checkFailed;
  },
});

/** The command cfn-hup's hook runs, read from the hook file on the host. */
export const CFN_INIT_RERUN =
  'sudo bash -c "$(sed -n \'s/^action=//p\' /etc/cfn/hooks.d/cfn-auto-reloader.conf)"';

async function probe(url: string): Promise<{ status?: number; build?: string; describe: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let build: string | undefined;
    try {
      build = (JSON.parse(text) as { build?: string }).build;
    } catch {
      // not the relay's JSON (an edge error page, say)
    }
    return {
      status: res.status,
      ...(build !== undefined && { build }),
      describe: `HTTP ${res.status}, build ${build ?? 'unknown'}`,
    };
  } catch (error) {
    return { describe: `no answer (${(error as Error).message})` };
  }
}

if (import.meta.main) {
  process.exitCode = await runCheckDeploy(process.argv.slice(2), processIo());
}
