import { CliError, EXIT } from './cli.ts';

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses a duration like 90s, 15m, 2h, 7d into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!match)
    throw new CliError(
      `${flag} must look like 30s, 15m, 2h or 7d, got ${JSON.stringify(text)}`,
      EXIT.usage,
    );
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** A point in time: "now", a duration back from now (15m, 2h), or an ISO date/time. */
export function parseTime(text: string, flag: string, now: number): number {
  const trimmed = text.trim();
  if (trimmed === 'now') return now;
  if (/^\d+[smhdw]$/.test(trimmed)) return now - parseDuration(trimmed, flag);
  const parsed = Date.parse(trimmed);
  if (Number.isNaN(parsed)) {
    throw new CliError(
      `${flag} must be "now", a duration back from now (15m, 2h, 7d) or an ISO time, got ${JSON.stringify(text)}`,
      EXIT.usage,
    );
  }
  return parsed;
}
