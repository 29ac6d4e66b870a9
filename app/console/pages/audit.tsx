import { api, query } from '../api.ts';
import { ErrorBanner, LoadMore, Section, Table, useCursorPages } from '../components.tsx';
import { useConsole } from '../context.ts';
import type { AuditRow, Page } from './types.ts';

/** Only the fields that changed, as "field: before → after". */
function change(before: unknown, after: unknown): string {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || typeof a !== 'object') return '';
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]),
  );
  const show = (v: unknown) => (v === undefined ? '–' : JSON.stringify(v));
  return fields.map((k) => `${k}: ${show(b[k])} → ${show(a[k])}`).join('; ');
}

export function AuditPage() {
  const { t, f } = useConsole();
  const list = useCursorPages(
    (cursor) => api<Page<AuditRow>>('GET', `/audit${query({ limit: 50, cursor })}`),
    [],
  );
  const rows = list.rows ?? [];
  return (
    <div class="page" data-page="audit">
      <ErrorBanner error={list.error} />
      <Section title={t('nav.audit')}>
        <Table
          empty={list.rows !== null && rows.length === 0}
          head={
            <tr>
              <th>{t('audit.time')}</th>
              <th>{t('audit.actor')}</th>
              <th>{t('audit.action')}</th>
              <th>{t('audit.target')}</th>
              <th>{t('audit.change')}</th>
              <th>{t('audit.ip')}</th>
            </tr>
          }
        >
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{f.time(r.at)}</td>
              <td>{r.actor}</td>
              <td>
                <code>{r.action}</code>
              </td>
              <td>{r.target ?? '–'}</td>
              <td class="clip">{change(r.before, r.after)}</td>
              <td>{r.ip ?? '–'}</td>
            </tr>
          ))}
        </Table>
        <LoadMore more={list.more} />
      </Section>
    </div>
  );
}
