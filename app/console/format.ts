import type { Lang } from './i18n.ts';

export interface Formats {
  usd(value: number | null): string;
  int(value: number): string;
  pct(value: number): string;
  ms(value: number | null): string;
  time(iso: string | null): string;
  date(iso: string | null): string;
}

/** Numbers, money and times in the console's language. */
export function formats(lang: Lang, never: string, unlimited: string): Formats {
  const money = new Intl.NumberFormat(lang, {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  });
  const int = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const pct = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'medium' });
  const date = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
  return {
    usd: (v) => (v === null ? unlimited : money.format(v)),
    int: (v) => int.format(v),
    pct: (v) => pct.format(v),
    ms: (v) => (v === null ? '–' : `${int.format(v)} ms`),
    time: (iso) => (iso ? time.format(new Date(iso)) : never),
    date: (iso) => (iso ? date.format(new Date(iso)) : never),
  };
}
