import { describe, expect, it } from 'vitest';
import { DayCalendar, addDays, isDay, monthStart } from './days.ts';

describe('calendar days in a time zone', () => {
  it('puts an instant on the day it is in that zone', () => {
    const t = Date.parse('2026-11-22T17:30:00Z');
    expect(new DayCalendar('UTC').dayOf(t)).toBe('2026-11-22');
    expect(new DayCalendar('Asia/Shanghai').dayOf(t)).toBe('2026-11-23');
    expect(new DayCalendar('America/Los_Angeles').dayOf(t)).toBe('2026-11-22');
    expect(new DayCalendar('Pacific/Kiritimati').dayOf(Date.parse('2026-11-22T10:00:00Z'))).toBe(
      '2026-11-23',
    );
  });

  it('finds where a day begins, DST days and half-hour zones included', () => {
    const cases: [string, string, string][] = [
      ['UTC', '2026-03-08', '2026-03-08T00:00:00.000Z'],
      ['Asia/Shanghai', '2026-03-08', '2026-03-07T16:00:00.000Z'],
      ['Asia/Kolkata', '2026-03-08', '2026-03-07T18:30:00.000Z'],
      // New York moves to daylight time at 02:00 that day: midnight is still UTC−5.
      ['America/New_York', '2026-03-08', '2026-03-08T05:00:00.000Z'],
      ['America/New_York', '2026-03-09', '2026-03-09T04:00:00.000Z'],
    ];
    for (const [zone, day, start] of cases) {
      const c = new DayCalendar(zone);
      expect(new Date(c.startOf(day)).toISOString(), `${zone} ${day}`).toBe(start);
      expect(c.dayOf(c.startOf(day))).toBe(day);
      expect(c.dayOf(c.startOf(day) - 1)).toBe(addDays(day, -1));
    }
  });

  it('keeps its answer for the minute, and moves on at midnight', () => {
    const c = new DayCalendar('UTC');
    const midnight = Date.parse('2026-11-23T00:00:00Z');
    expect(c.dayOf(midnight - 1)).toBe('2026-11-22');
    expect(c.dayOf(midnight)).toBe('2026-11-23');
    expect(c.dayOf(midnight - 1)).toBe('2026-11-22');
  });

  it('does date arithmetic on YYYY-MM-DD strings', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(monthStart('2026-11-22')).toBe('2026-11-01');
    expect(isDay('2026-11-22')).toBe(true);
    expect(isDay('2026-13-01')).toBe(false);
    expect(isDay('2026-02-30')).toBe(false);
    expect(isDay('22/11/2026')).toBe(false);
  });
});
