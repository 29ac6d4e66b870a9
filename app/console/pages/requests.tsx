import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, query } from '../api.ts';
import {
  ErrorBanner,
  LoadMore,
  Section,
  Table,
  UsageFilterFields,
  useCursorPages,
} from '../components.tsx';
import { useConsole } from '../context.ts';
import type { Page, RequestRow } from './types.ts';

interface Filters {
  requestId: string;
  key: string;
  model: string;
  channel: string;
  status: string;
  /** datetime-local values: the browser's own time. */
  from: string;
  to: string;
}

const NO_FILTERS: Filters = {
  requestId: '',
  key: '',
  model: '',
  channel: '',
  status: '',
  from: '',
  to: '',
};

const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);

function Details({ r }: { r: RequestRow }) {
  const { t, f } = useConsole();
  return (
    <dl class="facts">
      <dt>{t('requests.requestId')}</dt>
      <dd>
        <code>{r.requestId}</code>
      </dd>
      <dt>{t('requests.upstreamModel')}</dt>
      <dd>{r.upstreamModel ?? '–'}</dd>
      <dt>{t('requests.ttfb')}</dt>
      <dd>{f.ms(r.ttfbMs)}</dd>
      <dt>{t('requests.attempts')}</dt>
      <dd>{r.attempts ?? '–'}</dd>
      <dt>{t('usage.cacheRead')} / 5m / 1h</dt>
      <dd>
        {f.int(r.cacheReadTokens)} / {f.int(r.cacheWrite5mTokens)} / {f.int(r.cacheWrite1hTokens)}
      </dd>
      <dt>{t('usage.reasoning')}</dt>
      <dd>{f.int(r.reasoningTokens)}</dd>
      {r.errorMessage && (
        <>
          <dt>{t('requests.error')}</dt>
          <dd class="error-text">
            {r.errorCode}: {r.errorMessage}
          </dd>
        </>
      )}
    </dl>
  );
}

export function RequestsPage() {
  const { t, f } = useConsole();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [open, setOpen] = useState<string | null>(null);
  const list = useCursorPages(
    (cursor) =>
      api<Page<RequestRow>>(
        'GET',
        `/requests${query({
          ...applied,
          from: instant(applied.from),
          to: instant(applied.to),
          limit: 50,
          cursor,
        })}`,
      ),
    [applied],
  );
  const rows = list.rows ?? [];
  const field = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value });
  return (
    <div class="page" data-page="requests">
      <ErrorBanner error={list.error} />
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...draft });
        }}
      >
        <label>
          {t('requests.requestId')}
          <input name="requestId" value={draft.requestId} onInput={field('requestId')} />
        </label>
        <UsageFilterFields draft={draft} set={setDraft} />
        <label>
          {t('requests.status')}
          <select name="status" value={draft.status} onChange={field('status')}>
            <option value="">{t('common.all')}</option>
            <option value="ok">{t('requests.status.ok')}</option>
            <option value="error">{t('requests.status.error')}</option>
          </select>
        </label>
        <label>
          {t('usage.from')}
          <input type="datetime-local" name="from" value={draft.from} onInput={field('from')} />
        </label>
        <label>
          {t('usage.to')}
          <input type="datetime-local" name="to" value={draft.to} onInput={field('to')} />
        </label>
        <button type="submit" class="primary">
          {t('common.apply')}
        </button>
        <button type="button" onClick={() => setApplied({ ...applied })}>
          {t('common.refresh')}
        </button>
      </form>
      <Section title={t('nav.requests')}>
        <Table
          empty={list.rows !== null && rows.length === 0 && !list.searching}
          head={
            <tr>
              <th>{t('requests.time')}</th>
              <th>{t('usage.key')}</th>
              <th>{t('usage.model')}</th>
              <th>{t('usage.channel')}</th>
              <th class="num">{t('requests.status')}</th>
              <th class="num">{t('requests.tokens')}</th>
              <th class="num">{t('requests.cost')}</th>
              <th class="num">{t('requests.latency')}</th>
              <th>{t('requests.error')}</th>
            </tr>
          }
        >
          {rows.map((r) => (
            <Fragment key={r.requestId}>
              <tr
                class={`clickable ${r.status >= 400 ? 'failed' : ''}`}
                data-request-id={r.requestId}
                onClick={() => setOpen(open === r.requestId ? null : r.requestId)}
              >
                <td title={r.requestId}>{f.time(r.at)}</td>
                <td>{r.key ?? '–'}</td>
                <td>{r.model ?? '–'}</td>
                <td>{r.channel ?? '–'}</td>
                <td class="num">{r.status}</td>
                <td class="num">
                  {f.int(r.promptTokens)} / {f.int(r.completionTokens)}
                </td>
                <td class="num">{f.usd(r.costUsd)}</td>
                <td class="num">{f.ms(r.latencyMs)}</td>
                <td class="error-text clip">{r.errorMessage ?? ''}</td>
              </tr>
              {open === r.requestId && (
                <tr class="details">
                  <td colSpan={9}>
                    <Details r={r} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </Table>
        {list.searching && (
          <p class="muted" data-testid="searching">
            {t('common.searching')}
          </p>
        )}
        <LoadMore more={list.more} />
      </Section>
    </div>
  );
}
