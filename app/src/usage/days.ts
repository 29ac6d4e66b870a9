/** Calendar days in one time zone, as `YYYY-MM-DD` strings: what daily rollups are keyed by. */

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** A real date as YYYY-MM-DD (2026-02-30 is not one). */
export function isDay(value: string): boolean {
  if (!DAY.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value);
}

/** `day` plus `n` days (n may be negative); pure date arithmetic, no zone involved. */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * MS_PER_DAY).toISOString().slice(0, 10);
}

export const monthStart = (day: string): string => `${day.slice(0, 7)}-01`;

export class DayCalendar {
  readonly timeZone: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #wallClock: Intl.DateTimeFormat;
  #cachedMinute = Number.NaN;
  #cachedDay = '';

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    this.#wallClock = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  /** The zone's offset from UTC at `ms`, in ms (UTC+8 = 8 h). */
  #offset(ms: number): number {
    const p: Record<string, string> = {};
    for (const part of this.#wallClock.formatToParts(ms)) p[part.type] = part.value;
    const wall = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
    return wall - Math.floor(ms / 1000) * 1000;
  }

  /** When `day` begins in this zone, as epoch ms. */
  startOf(day: string): number {
    const utc = Date.parse(`${day}T00:00:00Z`);
    // Twice: the offset at the guessed instant can differ from the one at the real midnight.
    return utc - this.#offset(utc - this.#offset(utc));
  }

  /** The day `ms` falls on in this zone. Every usage row asks, so one answer per minute is kept. */
  dayOf(ms: number): string {
    const minute = Math.floor(ms / 60_000);
    if (minute !== this.#cachedMinute) {
      const parts: Record<string, string> = {};
      for (const p of this.#format.formatToParts(ms)) parts[p.type] = p.value;
      this.#cachedDay = `${parts.year}-${parts.month}-${parts.day}`;
      this.#cachedMinute = minute;
    }
    return this.#cachedDay;
  }
}
