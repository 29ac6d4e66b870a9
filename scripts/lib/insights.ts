import type { ResultField } from '@aws-sdk/client-cloudwatch-logs';
import { renderTable } from './table.ts';

export type TopGrouping = 'model' | 'key' | 'model,key';

const GROUP_FIELDS: Record<TopGrouping, string[]> = {
  model: ['model'],
  key: ['key'],
  'model,key': ['model', 'key'],
};

export function parseGrouping(text: string): TopGrouping | undefined {
  const normalized = text.replace(/\s/g, '');
  if (normalized === 'key,model') return 'model,key';
  return normalized in GROUP_FIELDS ? (normalized as TopGrouping) : undefined;
}

/**
 * Logs Insights query over the relay's request lines. `floor(status / 400)` is 1 for every
 * 4xx/5xx and 0 below, which sums to an error count without relying on booleans in stats.
 */
export function topQuery(grouping: TopGrouping, limit: number): string {
  return [
    'filter ispresent(requestId) and ispresent(status)',
    '| fields coalesce(model, "none") as model, coalesce(keyName, "-") as key, floor(status / 400) as failed',
    '| stats count(*) as requests, sum(failed) as errors, sum(promptTokens) as promptTokens,' +
      ' sum(completionTokens) as completionTokens, sum(costUsd) as costUsd, avg(latencyMs) as avgLatencyMs' +
      ` by ${GROUP_FIELDS[grouping].join(', ')}`,
    '| sort requests desc',
    `| limit ${limit}`,
  ].join('\n');
}

function numberOf(row: Map<string, string>, field: string): number {
  const n = Number(row.get(field) ?? 0);
  return Number.isFinite(n) ? n : 0;
}

const integer = (n: number) => Math.round(n).toLocaleString('en-US');

/** The query's rows as a table with a totals line. */
export function renderTopTable(grouping: TopGrouping, results: ResultField[][]): string {
  const groups = GROUP_FIELDS[grouping];
  const rows = results.map((fields) => new Map(fields.map((f) => [f.field ?? '', f.value ?? ''])));
  const total = { requests: 0, errors: 0, prompt: 0, completion: 0, cost: 0 };
  const body = rows.map((row) => {
    const requests = numberOf(row, 'requests');
    const errors = numberOf(row, 'errors');
    total.requests += requests;
    total.errors += errors;
    total.prompt += numberOf(row, 'promptTokens');
    total.completion += numberOf(row, 'completionTokens');
    total.cost += numberOf(row, 'costUsd');
    return [
      ...groups.map((g) => row.get(g) ?? '-'),
      integer(requests),
      integer(errors),
      requests ? `${((errors / requests) * 100).toFixed(1)}%` : '-',
      integer(numberOf(row, 'promptTokens')),
      integer(numberOf(row, 'completionTokens')),
      `$${numberOf(row, 'costUsd').toFixed(4)}`,
      integer(numberOf(row, 'avgLatencyMs')),
    ];
  });
  const totals = [
    'TOTAL',
    ...groups.slice(1).map(() => ''),
    integer(total.requests),
    integer(total.errors),
    total.requests ? `${((total.errors / total.requests) * 100).toFixed(1)}%` : '-',
    integer(total.prompt),
    integer(total.completion),
    `$${total.cost.toFixed(4)}`,
    '',
  ];
  const headers = [
    ...groups.map((g) => g.toUpperCase()),
    'REQUESTS',
    'ERRORS',
    'ERR%',
    'PROMPT_TOK',
    'COMPL_TOK',
    'COST_USD',
    'AVG_MS',
  ];
  return renderTable(headers, body.length ? [...body, totals] : []);
}
