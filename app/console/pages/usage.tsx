import { useMemo, useState } from 'preact/hooks';
import { BASE, api, query } from '../api.ts';
import { Chart } from '../chart.tsx';
import { ErrorBanner, Section, Table, UsageFilterFields, useLoad } from '../components.tsx';
import { useConsole } from '../context.ts';
import type { MessageKey } from '../i18n.ts';
import type { UsageReport, UsageRow } from './types.ts';

const GROUPS = ['day', 'key', 'model', 'channel'] as const;
type Group = (typeof GROUPS)[number];

interface Filters {
  from: string;
  to: string;
  groupBy: Group;
  key: string;
  model: string;
  channel: string;
}

const dayX = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= Date.parse(`${to}T00:00:00Z`);
    t += 86_400_000
  ) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

function UsageTable({
  rows,
  total,
  groupBy,
}: {
  rows: UsageRow[];
  total: UsageRow;
  groupBy: Group;
}) {
  const { t, f } = useConsole();
  const line = (r: UsageRow, label: string, cls?: string) => (
    <tr key={label} class={cls}>
      <td>{label}</td>
      <td class="num">{f.int(r.requests)}</td>
      <td class="num">{f.int(r.errors)}</td>
      <td class="num">{f.int(r.promptTokens)}</td>
      <td class="num">{f.int(r.cacheReadTokens)}</td>
      <td class="num">{f.int(r.cacheWrite5mTokens)}</td>
      <td class="num">{f.int(r.cacheWrite1hTokens)}</td>
      <td class="num">{f.int(r.completionTokens)}</td>
      <td class="num">{f.int(r.reasoningTokens)}</td>
      <td class="num">{f.usd(r.costUsd)}</td>
      <td class="num">{f.ms(r.avgLatencyMs)}</td>
    </tr>
  );
  return (
    <Table
      empty={rows.length === 0}
      head={
        <tr>
          <th>{t(`usage.by.${groupBy}` as MessageKey)}</th>
          <th class="num">{t('usage.requests')}</th>
          <th class="num">{t('usage.errors')}</th>
          <th class="num">{t('usage.prompt')}</th>
          <th class="num">{t('usage.cacheRead')}</th>
          <th class="num">{t('usage.cacheWrite5m')}</th>
          <th class="num">{t('usage.cacheWrite1h')}</th>
          <th class="num">{t('usage.completion')}</th>
          <th class="num">{t('usage.reasoning')}</th>
          <th class="num">{t('usage.cost')}</th>
          <th class="num">{t('usage.avgLatency')}</th>
        </tr>
      }
    >
      {rows.map((r) => line(r, r.group || '–'))}
      {rows.length > 0 && line(total, t('usage.total'), 'total')}
    </Table>
  );
}

export function UsagePage() {
  const { t, f } = useConsole();
  const [draft, setDraft] = useState<Filters>({
    from: '',
    to: '',
    groupBy: 'day',
    key: '',
    model: '',
    channel: '',
  });
  const [applied, setApplied] = useState(draft);
  const filter = {
    from: applied.from,
    to: applied.to,
    key: applied.key,
    model: applied.model,
    channel: applied.channel,
  };
  const table = useLoad(
    () => api<UsageReport>('GET', `/usage${query({ ...filter, groupBy: applied.groupBy })}`),
    [applied],
  );
  const days = useLoad(
    () => api<UsageReport>('GET', `/usage${query({ ...filter, groupBy: 'day' })}`),
    [applied],
  );
  const chart = useMemo(() => {
    if (!days.data) return null;
    // Every day of the range, so that quiet days show as zero and the axis spans the range.
    const byDay = new Map(days.data.rows.map((r) => [r.group, r]));
    const all = daysBetween(days.data.from, days.data.to);
    return {
      x: all.map(dayX),
      series: [
        {
          label: t('usage.cost'),
          values: all.map((d) => byDay.get(d)?.costUsd ?? 0),
          color: '#16a34a',
          bars: true,
          format: (v: number) => f.usd(v),
        },
        {
          label: t('usage.requests'),
          values: all.map((d) => byDay.get(d)?.requests ?? 0),
          color: '#2563eb',
          right: true,
        },
      ],
    };
  }, [days.data, t, f]);
  const field = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value });
  const range = table.data ? { from: table.data.from, to: table.data.to } : {};
  const csv = `${BASE}/usage/export.csv${query({ ...filter, ...range })}`;
  return (
    <div class="page" data-page="usage">
      <ErrorBanner error={table.error ?? days.error} />
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(draft);
        }}
      >
        <label>
          {t('usage.from')}
          <input
            type="date"
            name="from"
            value={draft.from || table.data?.from || ''}
            onInput={field('from')}
          />
        </label>
        <label>
          {t('usage.to')}
          <input
            type="date"
            name="to"
            value={draft.to || table.data?.to || ''}
            onInput={field('to')}
          />
        </label>
        <label>
          {t('usage.groupBy')}
          <select name="groupBy" value={draft.groupBy} onChange={field('groupBy')}>
            {GROUPS.map((g) => (
              <option key={g} value={g}>
                {t(`usage.by.${g}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <UsageFilterFields draft={draft} set={setDraft} />
        <button type="submit" class="primary">
          {t('common.apply')}
        </button>
        <a class="button" href={csv} download>
          {t('usage.export')}
        </a>
      </form>
      <Section title={t('usage.chart')}>
        {chart && <Chart {...chart} xLabel={t('chart.day')} days />}
      </Section>
      <Section title={t(`usage.by.${applied.groupBy}` as MessageKey)}>
        {table.data ? (
          <UsageTable rows={table.data.rows} total={table.data.total} groupBy={applied.groupBy} />
        ) : (
          <p class="muted">{t('common.loading')}</p>
        )}
      </Section>
    </div>
  );
}
