import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
  StopQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { awsClientConfig } from './lib/aws.ts';
import { CliError, defineScript, EXIT, positiveInt, processIo, sleep } from './lib/cli.ts';
import type { Io, ParsedCommandLine } from './lib/cli.ts';
import { parseGrouping, renderTopTable, topQuery } from './lib/insights.ts';
import { buildFilterPattern } from './lib/log-filter.ts';
import { formatLogEvent } from './lib/log-lines.ts';
import { parseDuration, parseTime } from './lib/time.ts';

export const DEFAULT_LOG_GROUP = '/llm-relay/relay';

const USAGE = `Search, follow and summarise the relay's CloudWatch logs.

Usage:
  npm run logs -- [search] [filters] [--follow]
  npm run logs -- top [--since 24h] [--by model|key|model,key]

Filters (search):
  --request-id ID    one request (the x-request-id header a client saw)
  --key NAME         requests made with this client key name
  --model NAME       requests for this model (the client's model name)
  --status S         a code (502), a class (4xx, 5xx) or "error" (>= 400)
  --since T          start: a duration back from now (15m, 2h, 7d) or an ISO time (default 1h)
  --until T          end: same forms, or "now" (default now)
  --limit N          stop after N lines (default 200; --follow ignores it)
  --follow, -f       keep printing new lines until Ctrl-C
  --interval D       how often --follow polls (default 2s)
  --json             print the raw JSON lines instead of readable ones

top:
  --since T          period to summarise (default 24h); --until as above
  --by G             group by model, key, or model,key (default model,key)
  --limit N          rows (default 50)
  --timeout D        give up on the Logs Insights query after this long (default 2m)

Common:
  --log-group NAME   log group (default ${DEFAULT_LOG_GROUP}, the CDK context logGroupName)`;

const OPTIONS = {
  'request-id': { type: 'string' },
  key: { type: 'string' },
  model: { type: 'string' },
  status: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
  by: { type: 'string' },
  timeout: { type: 'string' },
  'log-group': { type: 'string' },
} as const;

const MAX_PAGES = 10_000;

export const runLogs = defineScript({
  usage: USAGE,
  options: OPTIONS,
  async run({ values, positionals }, io) {
    const [command = 'search', ...extra] = positionals;
    if (extra.length || !['search', 'top'].includes(command)) {
      throw new CliError(
        `unknown command ${JSON.stringify(positionals.join(' '))} (see --help)`,
        EXIT.usage,
      );
    }
    const client = new CloudWatchLogsClient(awsClientConfig(io, values.region));
    const logGroupName = values['log-group'] ?? DEFAULT_LOG_GROUP;
    const now = io.now?.() ?? Date.now();
    try {
      if (command === 'top') {
        return await top(client, io, logGroupName, values, now);
      }
      return await search(client, io, logGroupName, values, now);
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') {
        throw new CliError(
          `log group ${logGroupName} not found in ${await client.config.region()} (pass --log-group or --region)`,
          EXIT.notFound,
        );
      }
      throw error;
    } finally {
      client.destroy();
    }
  },
});

type Values = ParsedCommandLine<typeof OPTIONS>['values'];

async function search(
  client: CloudWatchLogsClient,
  io: Io,
  logGroupName: string,
  values: Values,
  now: number,
): Promise<number> {
  const filterPattern = buildFilterPattern({
    requestId: values['request-id'],
    keyName: values.key,
    model: values.model,
    status: values.status,
  });
  const startTime = parseTime(values.since ?? '1h', '--since', now);
  const endTime = values.until ? parseTime(values.until, '--until', now) : undefined;
  const limit = values.follow ? Infinity : positiveInt(values.limit, '--limit', 200);
  const print = (event: FilteredLogEvent) =>
    io.stdout(
      values.json
        ? (event.message ?? '').trimEnd()
        : formatLogEvent(event.message ?? '', event.timestamp ?? 0),
    );

  // Events sharing the newest timestamp are asked for again on the next poll; their ids
  // keep them from printing twice.
  let seen = new Set<string>();
  let newest = startTime;
  let printed = 0;
  const fetchFrom = async (from: number, to: number | undefined) => {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const response = await client.send(
        new FilterLogEventsCommand({
          logGroupName,
          filterPattern,
          startTime: from,
          endTime: to,
          nextToken,
        }),
        { abortSignal: io.signal },
      );
      for (const event of response.events ?? []) {
        if (event.eventId && seen.has(event.eventId)) continue;
        const ts = event.timestamp ?? 0;
        if (ts > newest) {
          newest = ts;
          seen = new Set();
        }
        if (event.eventId && ts === newest) seen.add(event.eventId);
        print(event);
        if (++printed >= limit) return;
      }
      nextToken = response.nextToken;
      if (!nextToken || io.signal?.aborted) return;
    }
  };

  await fetchFrom(startTime, endTime);
  if (!values.follow) {
    if (printed === 0) io.stderr(`no matching lines in ${logGroupName}`);
    return EXIT.ok;
  }
  const interval = parseDuration(values.interval ?? '2s', '--interval');
  while (!io.signal?.aborted) {
    await sleep(io.pollIntervalMs ?? interval, io.signal);
    if (io.signal?.aborted) break;
    try {
      await fetchFrom(newest, undefined);
    } catch (error) {
      if (io.signal?.aborted) break;
      throw error;
    }
  }
  return EXIT.ok;
}

async function top(
  client: CloudWatchLogsClient,
  io: Io,
  logGroupName: string,
  values: Values,
  now: number,
): Promise<number> {
  const grouping = parseGrouping(values.by ?? 'model,key');
  if (!grouping)
    throw new CliError(
      `--by must be model, key or model,key, got ${JSON.stringify(values.by)}`,
      EXIT.usage,
    );
  const start = parseTime(values.since ?? '24h', '--since', now);
  const end = values.until ? parseTime(values.until, '--until', now) : now;
  const timeoutMs = parseDuration(values.timeout ?? '2m', '--timeout');
  const limit = positiveInt(values.limit, '--limit', 50);

  const { queryId } = await client.send(
    new StartQueryCommand({
      logGroupName,
      startTime: Math.floor(start / 1000),
      endTime: Math.ceil(end / 1000),
      queryString: topQuery(grouping, limit),
    }),
  );
  if (!queryId) throw new CliError('Logs Insights returned no query id');

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await client.send(new GetQueryResultsCommand({ queryId }));
    const status = response.status ?? 'Unknown';
    if (status === 'Complete') {
      io.stdout(
        `${logGroupName}  ${new Date(start).toISOString()} .. ${new Date(end).toISOString()}  (${
          response.statistics?.recordsMatched ?? 0
        } requests matched)`,
      );
      io.stdout(
        response.results?.length
          ? renderTopTable(grouping, response.results)
          : 'no requests in this period',
      );
      return EXIT.ok;
    }
    if (!['Scheduled', 'Running', 'Unknown'].includes(status)) {
      throw new CliError(`Logs Insights query ${queryId} ended with status ${status}`);
    }
    if (Date.now() > deadline || io.signal?.aborted) {
      await client.send(new StopQueryCommand({ queryId })).catch(() => undefined);
      throw new CliError(
        `Logs Insights query ${queryId} did not finish within ${values.timeout ?? '2m'}`,
      );
    }
    await sleep(io.pollIntervalMs ?? 1000, io.signal);
  }
}

if (import.meta.main) {
  process.exitCode = await runLogs(process.argv.slice(2), processIo());
}
