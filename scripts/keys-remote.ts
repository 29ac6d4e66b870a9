import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
// The host's layout as the CDK construct writes it, so the defaults cannot drift from it.
import { HOST_PATHS, RELAY_SERVICE } from '../lib/constructs/relay-host-files.ts';
import { awsClientConfig } from './lib/aws.ts';
import { CliError, defineScript, EXIT, processIo, sleep } from './lib/cli.ts';
import { remoteKeysScript } from './lib/remote-keys.ts';
import { parseDuration } from './lib/time.ts';

const USAGE = `Run the relay's keys CLI on the deployed host through SSM Run Command.

Usage:
  npm run keys-remote -- --instance-id i-0123 [options] -- <keys command>

  npm run keys-remote -- --instance-id i-0123 -- create --name alice --quota 5
  npm run keys-remote -- --instance-id i-0123 -- list
  npm run keys-remote -- --instance-id i-0123 -- topup --name alice --amount 10
  npm run keys-remote -- --instance-id i-0123 -- disable --name alice

The command runs as the service's user with the running service's environment
(node ${HOST_PATHS.current}/keys.mjs ...). Its output is printed here.

Note: "create" prints the new key once; SSM keeps command output in its history
(visible to whoever may call ssm:GetCommandInvocation) for 30 days.

Options:
  --instance-id ID   the relay host: the InstanceId output of the <stackPrefix>-Relay stack
                     (default RELAY_INSTANCE_ID)
  --service NAME     systemd unit of the relay (default ${RELAY_SERVICE})
  --app-dir DIR      where keys.mjs is on the host (default ${HOST_PATHS.current})
  --timeout D        how long to wait for the command (default 2m)
  --dry-run          print the script that would run; send nothing`;

const OPTIONS = {
  'instance-id': { type: 'string' },
  service: { type: 'string' },
  'app-dir': { type: 'string' },
  timeout: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

const KEYS_COMMANDS = new Set([
  'create',
  'update',
  'list',
  'topup',
  'disable',
  'enable',
  'delete',
  'show',
]);
const PENDING = new Set(['Pending', 'InProgress', 'Delayed']);

export const runKeysRemote = defineScript({
  usage: USAGE,
  options: OPTIONS,
  async run({ values, positionals: keysArgs }, io) {
    if (!keysArgs[0] || !KEYS_COMMANDS.has(keysArgs[0])) {
      throw new CliError(
        'give the keys command after "--", e.g. -- create --name alice (see --help)',
        EXIT.usage,
      );
    }
    const instanceId = values['instance-id'] ?? io.env.RELAY_INSTANCE_ID;
    if (!instanceId) {
      throw new CliError(
        'missing --instance-id: the relay host, the InstanceId output of the LlmRelay-Relay stack ' +
          '(aws cloudformation describe-stacks --stack-name LlmRelay-Relay), or set RELAY_INSTANCE_ID',
        EXIT.usage,
      );
    }
    if (!/^i-[0-9a-f]{8,17}$/.test(instanceId)) {
      throw new CliError(
        `--instance-id must be an EC2 instance id (i-0123...); got ${JSON.stringify(instanceId)}`,
        EXIT.usage,
      );
    }
    const script = remoteKeysScript(keysArgs, {
      service: values.service ?? RELAY_SERVICE,
      appDir: values['app-dir'] ?? HOST_PATHS.current,
    });
    const timeoutMs = parseDuration(values.timeout ?? '2m', '--timeout');
    if (values['dry-run']) {
      io.stdout(`dry run: would run on ${instanceId} (AWS-RunShellScript):\n${script}`);
      return EXIT.ok;
    }

    const client = new SSMClient(awsClientConfig(io, values.region));
    try {
      const sent = await client.send(
        new SendCommandCommand({
          InstanceIds: [instanceId],
          DocumentName: 'AWS-RunShellScript',
          Comment: `llm-relay keys ${keysArgs[0]}`,
          TimeoutSeconds: Math.max(30, Math.ceil(timeoutMs / 1000)),
          Parameters: {
            commands: [script],
            executionTimeout: [String(Math.ceil(timeoutMs / 1000))],
          },
        }),
      );
      const commandId = sent.Command?.CommandId;
      if (!commandId) throw new CliError('SSM returned no command id');

      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await sleep(io.pollIntervalMs ?? 1000, io.signal);
        let invocation;
        try {
          invocation = await client.send(
            new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
          );
        } catch (error) {
          // The invocation appears a moment after SendCommand returns.
          if ((error as { name?: string }).name !== 'InvocationDoesNotExist') throw error;
          invocation = undefined;
        }
        const status = invocation?.Status ?? 'Pending';
        if (!PENDING.has(status)) {
          if (invocation?.StandardOutputContent)
            io.stdout(invocation.StandardOutputContent.trimEnd());
          if (invocation?.StandardErrorContent)
            io.stderr(invocation.StandardErrorContent.trimEnd());
          if (status === 'Success') return EXIT.ok;
          io.stderr(
            `error: keys ${keysArgs[0]} on ${instanceId} ended ${status}` +
              (invocation?.ResponseCode !== undefined ? ` (exit ${invocation.ResponseCode})` : '') +
              ` — command ${commandId}`,
          );
          return EXIT.checkFailed;
        }
        if (Date.now() > deadline || io.signal?.aborted) {
          throw new CliError(
            `command ${commandId} still ${status} after ${values.timeout ?? '2m'}; check it in the SSM console`,
          );
        }
      }
    } catch (error) {
      if ((error as { name?: string }).name === 'InvalidInstanceId') {
        throw new CliError(
          `instance ${instanceId} is not reachable through SSM (wrong id or region, stopped, or the SSM agent is offline)`,
          EXIT.notFound,
        );
      }
      throw error;
    } finally {
      client.destroy();
    }
  },
});

if (import.meta.main) {
  process.exitCode = await runKeysRemote(process.argv.slice(2), processIo());
}
