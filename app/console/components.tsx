import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { useConsole } from './context.ts';
import { WINDOWS_PER_LOAD } from './paging.ts';

/** Loads once and again on `reload()` or when `deps` change; errors are kept for display. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(null);
      },
      (err: Error) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}

export function ErrorBanner({ error }: { error: Error | null }) {
  const { t } = useConsole();
  if (!error) return null;
  const id = error instanceof ApiError && error.requestId ? ` (${error.requestId})` : '';
  return (
    <p class="error" role="alert">
      {t('common.error')}: {error.message}
      {id}
    </p>
  );
}

export function Card({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="card">
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {sub && <div class="card-sub">{sub}</div>}
    </div>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="panel">
      <div class="panel-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Wide tables scroll sideways on a phone instead of widening the page. */
export function Table({
  head,
  children,
  empty,
}: {
  head: ComponentChildren;
  children: ComponentChildren;
  empty?: boolean;
}) {
  const { t } = useConsole();
  return (
    <div class="table-wrap">
      <table>
        <thead>{head}</thead>
        <tbody>{children}</tbody>
      </table>
      {empty && <p class="muted">{t('common.none')}</p>}
    </div>
  );
}

export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={title}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

export function Badge({
  kind,
  children,
}: {
  kind: 'ok' | 'warn' | 'bad' | 'off' | 'info';
  children: ComponentChildren;
}) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

/** Text inputs for the key, model and channel filters that Usage and Requests share. */
export function UsageFilterFields<F extends { key: string; model: string; channel: string }>({
  draft,
  set,
}: {
  draft: F;
  set: (f: F) => void;
}) {
  const { t } = useConsole();
  return (
    <>
      {(['key', 'model', 'channel'] as const).map((name) => (
        <label key={name}>
          {t(`usage.${name}`)}
          <input
            name={name}
            value={draft[name]}
            onInput={(e) => set({ ...draft, [name]: (e.target as HTMLInputElement).value })}
          />
        </label>
      ))}
    </>
  );
}

/**
 * A list read page by page with the API's `next` cursor; starts over when `deps` change. An
 * answer to a list whose filters have changed since is dropped (it would mix the old filter's
 * rows into the new list), and a load already under way is not started twice. The API looks at
 * a bounded window of rows per call, so a filter that matches rarely can answer a short page
 * with a `next`: up to WINDOWS_PER_LOAD windows are read to fill a page, then `searching` says
 * older rows are left to look at.
 */
export function useCursorPages<T>(
  fetchPage: (cursor: string | null) => Promise<{ rows: T[]; next: string | null }>,
  deps: readonly unknown[],
  pageSize = 50,
) {
  const [rows, setRows] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [short, setShort] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const generation = useRef(0);
  const busy = useRef(false);
  const load = async (cursor: string | null, before: T[]) => {
    const mine = generation.current;
    busy.current = true;
    try {
      const found: T[] = [];
      let at = cursor;
      for (let i = 0; i < WINDOWS_PER_LOAD; i++) {
        const page = await fetchPage(at);
        if (mine !== generation.current) return;
        found.push(...page.rows);
        at = page.next;
        if (!at || found.length >= pageSize) break;
      }
      setRows([...before, ...found]);
      setNext(at);
      setShort(at !== null && found.length < pageSize);
      setError(null);
    } catch (err) {
      if (mine === generation.current) setError(err as Error);
    } finally {
      if (mine === generation.current) busy.current = false;
    }
  };
  useEffect(() => {
    generation.current++;
    busy.current = false;
    void load(null, []);
  }, deps);
  return {
    rows,
    error,
    /** The last load stopped at its window limit with matches possibly older. */
    searching: short,
    more: next
      ? async () => {
          if (!busy.current) await load(next, rows ?? []);
        }
      : null,
  };
}

export function LoadMore({ more }: { more: (() => Promise<void>) | null }) {
  const { t } = useConsole();
  if (!more) return null;
  return (
    <button type="button" onClick={() => void more()}>
      {t('common.loadMore')}
    </button>
  );
}
