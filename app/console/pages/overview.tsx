import { useEffect, useMemo } from 'preact/hooks';
import { api } from '../api.ts';
import { Chart } from '../chart.tsx';
import { Card, ErrorBanner, Section, Table, useLoad } from '../components.tsx';
import { useConsole } from '../context.ts';
import type { Overview, Ranked } from './types.ts';

const REFRESH_MS = 30_000;
const dayX = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

function RankedTable({ title, rows }: { title: string; rows: Ranked[] }) {
  const { t, f } = useConsole();
  return (
    <Section title={title}>
      <Table
        empty={rows.length === 0}
        head={
          <tr>
            <th>{t('keys.name')}</th>
            <th class="num">{t('overview.requests')}</th>
            <th class="num">{t('usage.cost')}</th>
          </tr>
        }
      >
        {rows.map((r) => (
          <tr key={r.name}>
            <td>{r.name}</td>
            <td class="num">{f.int(r.requests)}</td>
            <td class="num">{f.usd(r.costUsd)}</td>
          </tr>
        ))}
      </Table>
    </Section>
  );
}

export function OverviewPage() {
  const { t, f } = useConsole();
  const { data, error, reload } = useLoad(() => api<Overview>('GET', '/overview'), []);
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
  const perMinute = useMemo(
    () =>
      data && {
        x: data.live.perMinute.map((b) => Date.parse(b.at) / 1000),
        series: [
          {
            label: t('overview.requests'),
            values: data.live.perMinute.map((b) => b.requests),
            color: '#2563eb',
          },
          {
            label: t('overview.errors'),
            values: data.live.perMinute.map((b) => b.errors),
            color: '#dc2626',
          },
        ],
      },
    [data, t],
  );
  const daily = useMemo(
    () =>
      data && {
        x: data.daily.map((d) => dayX(d.day)),
        series: [
          {
            label: t('usage.cost'),
            values: data.daily.map((d) => d.costUsd),
            color: '#16a34a',
            bars: true,
            format: (v: number) => f.usd(v),
          },
          {
            label: t('overview.requests'),
            values: data.daily.map((d) => d.requests),
            color: '#2563eb',
            right: true,
          },
        ],
      },
    [data, t, f],
  );
  if (!data)
    return (
      <>{error ? <ErrorBanner error={error} /> : <p class="muted">{t('common.loading')}</p>}</>
    );
  const live = data.live;
  const pair = (p: { p50: number | null; p99: number | null }) => `${f.ms(p.p50)} / ${f.ms(p.p99)}`;
  return (
    <div class="page" data-page="overview">
      <ErrorBanner error={error} />
      <div class="cards">
        <Card
          label={t('overview.spendToday')}
          value={f.usd(data.spend.todayUsd)}
          sub={`${t('overview.requestsToday')}: ${f.int(data.requests.today)}`}
        />
        <Card
          label={t('overview.spendMonth')}
          value={f.usd(data.spend.monthUsd)}
          sub={`${t('overview.requestsMonth')}: ${f.int(data.requests.month)}`}
        />
        <Card
          label={t('overview.rpm')}
          value={f.int(live.rpm)}
          sub={`${t('overview.lastHour')}: ${f.int(live.requests)}`}
        />
        <Card
          label={t('overview.errorRate')}
          value={f.pct(live.errorRate)}
          sub={`${t('overview.clientErrorRate')}: ${f.pct(live.clientErrorRate)}`}
        />
        <Card label={t('overview.latency')} value={pair(live.latencyMs)} />
        <Card label={t('overview.ttft')} value={pair(live.ttftMs)} />
      </div>
      <div class="grid-2">
        <Section title={t('overview.perMinute')}>
          {perMinute && <Chart {...perMinute} xLabel={t('chart.time')} />}
        </Section>
        <Section title={t('overview.daily')}>
          {daily && <Chart {...daily} xLabel={t('chart.day')} days />}
        </Section>
      </div>
      <div class="grid-2">
        <RankedTable title={t('overview.topModels')} rows={data.topModels} />
        <RankedTable title={t('overview.topKeys')} rows={data.topKeys} />
      </div>
      <p class="muted">{t('overview.timeZone', { zone: data.timeZone })}</p>
    </div>
  );
}
