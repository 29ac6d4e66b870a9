import { readFile } from 'node:fs/promises';
import {
  DeleteParameterCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { Parameter } from '@aws-sdk/client-ssm';
import { awsClientConfig } from './lib/aws.ts';
import { CliError, defineScript, EXIT, processIo, required } from './lib/cli.ts';
import { startProgress } from './lib/progress.ts';
import { renderTable } from './lib/table.ts';

const USAGE = `Store provider API keys where the relay host reads them: SSM Parameter Store
SecureString parameters named <prefix>/env/<ENV_VAR_NAME>. At service start the host loads
every one of them into the relay's environment, so a channel with "apiKey": "env:NAME"
finds it. Values are never printed.

Usage:
  printf %s "$DEEPSEEK_KEY" | npm run secrets -- put DEEPSEEK_API_KEY
  npm run secrets -- put DEEPSEEK_API_KEY --from-env DEEPSEEK_KEY
  npm run secrets -- import providers.env      (KEY=value lines; # comments)
  npm run secrets -- list
  npm run secrets -- delete DEEPSEEK_API_KEY

New values reach the relay when it restarts (the next deploy, or restart the service).
The origin secret (RELAY_ORIGIN_SECRET) is not here: the stack generates it in Secrets
Manager; see docs/deploy.md for rotating it.

Options:
  --from-env VAR    put: read the value from this environment variable (default: stdin)
  --prefix P        parameter prefix, the CDK context ssmPrefix (default /llm-relay)
  --kms-key-id K    encrypt with this KMS key instead of the account's aws/ssm key
  --dry-run         show what would be written or deleted; write nothing`;

const OPTIONS = {
  'from-env': { type: 'string' },
  prefix: { type: 'string' },
  'kms-key-id': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const MAX_PAGES = 1000;

function envName(name: string | undefined): string {
  const value = required(name, 'the environment variable name, e.g. DEEPSEEK_API_KEY');
  if (!ENV_NAME.test(value)) {
    throw new CliError(
      `${JSON.stringify(value)} is not an environment variable name (A-Z, 0-9, _)`,
      EXIT.usage,
    );
  }
  return value;
}

/** KEY=value lines; quotes around the value are removed, as dotenv does. */
export function parseEnvFile(text: string): [string, string][] {
  const entries: [string, string][] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new CliError(`line ${index + 1} is not KEY=value`, EXIT.usage);
    const value = match[2]!.replace(/^(["'])(.*)\1$/, '$2');
    entries.push([envName(match[1]), value]);
  });
  return entries;
}

export const runSecrets = defineScript({
  usage: USAGE,
  options: OPTIONS,
  async run({ values, positionals }, io) {
    const [command, arg, ...extra] = positionals;
    if (!command || !['put', 'import', 'list', 'delete'].includes(command) || extra.length) {
      throw new CliError('give one command: put, import, list or delete (see --help)', EXIT.usage);
    }
    const prefix = (values.prefix ?? '/llm-relay').replace(/\/$/, '');
    if (!prefix.startsWith('/')) throw new CliError('--prefix must start with /', EXIT.usage);
    const path = (name: string) => `${prefix}/env/${name}`;
    const dryRun = values['dry-run'] ?? false;

    // Read every input before any AWS call, so a usage mistake never half-applies.
    let entries: [string, string][] = [];
    if (command === 'put') {
      const name = envName(arg);
      let value: string | undefined;
      if (values['from-env']) {
        value = io.env[values['from-env']];
        if (value === undefined)
          throw new CliError(`environment variable ${values['from-env']} is not set`, EXIT.usage);
      } else {
        if (!io.readStdin)
          throw new CliError('pipe the value in on stdin or use --from-env', EXIT.usage);
        value = (await io.readStdin()).replace(/\r?\n$/, '');
      }
      if (!value) throw new CliError(`the value for ${name} is empty`, EXIT.usage);
      entries = [[name, value]];
    } else if (command === 'import') {
      const file = required(arg, 'the env file path');
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${file} (${error.code ?? error.message})`, EXIT.notFound);
      });
      entries = parseEnvFile(text);
      if (entries.length === 0) throw new CliError(`${file} has no KEY=value lines`, EXIT.usage);
    }

    const client = new SSMClient(awsClientConfig(io, values.region));
    try {
      if (command === 'list') {
        const parameters: Parameter[] = [];
        let NextToken: string | undefined;
        for (let page = 0; page < MAX_PAGES; page++) {
          const response = await client.send(
            new GetParametersByPathCommand({
              Path: `${prefix}/env`,
              Recursive: false,
              WithDecryption: false,
              NextToken,
            }),
          );
          parameters.push(...(response.Parameters ?? []));
          NextToken = response.NextToken;
          if (!NextToken) break;
        }
        if (parameters.length === 0) {
          io.stdout(`no parameters under ${prefix}/env`);
          return EXIT.ok;
        }
        io.stdout(
          renderTable(
            ['NAME', 'TYPE', 'VERSION', 'LAST_MODIFIED'],
            parameters.map((p) => [
              p.Name ?? '',
              p.Type ?? '',
              String(p.Version ?? ''),
              p.LastModifiedDate ? new Date(p.LastModifiedDate).toISOString() : '',
            ]),
          ),
        );
        return EXIT.ok;
      }
      if (command === 'delete') {
        const name = path(envName(arg));
        if (dryRun) {
          io.stdout(`dry run: would delete ${name}`);
          return EXIT.ok;
        }
        try {
          await client.send(new DeleteParameterCommand({ Name: name }));
        } catch (error) {
          if ((error as { name?: string }).name === 'ParameterNotFound') {
            throw new CliError(`parameter ${name} does not exist`, EXIT.notFound);
          }
          throw error;
        }
        io.stdout(`deleted ${name}`);
        return EXIT.ok;
      }

      if (dryRun) {
        for (const [name] of entries)
          io.stdout(`dry run: would put ${path(name)} (SecureString, value hidden)`);
        return EXIT.ok;
      }
      const progress = startProgress(io, 'ssm', entries.length);
      try {
        for (const [name, value] of entries) {
          const { Version } = await client.send(
            new PutParameterCommand({
              Name: path(name),
              Value: value,
              Type: 'SecureString',
              Overwrite: true,
              ...(values['kms-key-id'] ? { KeyId: values['kms-key-id'] } : {}),
            }),
          );
          progress.increment();
          io.stdout(`put ${path(name)} (SecureString, version ${Version ?? '?'})`);
        }
      } finally {
        progress.stop();
      }
      io.stdout('the relay picks new values up when it restarts');
      return EXIT.ok;
    } finally {
      client.destroy();
    }
  },
});

if (import.meta.main) {
  process.exitCode = await runSecrets(process.argv.slice(2), processIo());
}
