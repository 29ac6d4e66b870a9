import { CliError, EXIT } from './cli.ts';

/**
 * An RFC 1035 master-file reader for zone exports from registrars. dns-zonefile (0.3) was
 * not enough: it drops record types it does not know without a word, joins only the SOA's
 * parentheses, reads a blank owner as "the last record of the same type", keeps only the
 * last $ORIGIN and does not take TTL units (1h). An import that silently loses records is
 * worse than none, so this reader fails on what it cannot read, naming the line.
 */

export interface ZoneRecord {
  /** Fully qualified, lower case, with the trailing dot. */
  name: string;
  type: string;
  ttl: number;
  /** RDATA fields; character-strings unquoted, names in name fields fully qualified. */
  rdata: string[];
  line: number;
}

interface Token {
  text: string;
  quoted: boolean;
}

interface Entry {
  tokens: Token[];
  blankOwner: boolean;
  line: number;
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS']);
const TTL_PATTERN = /^(\d+[smhdw]?)+$/i;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** Which RDATA fields hold domain names, for qualifying relative ones. */
const NAME_FIELDS: Record<string, number[]> = {
  CNAME: [0],
  DNAME: [0],
  NS: [0],
  PTR: [0],
  MX: [1],
  SRV: [3],
  SOA: [0, 1],
};

function fail(line: number, message: string): never {
  throw new CliError(`zone file line ${line}: ${message}`, EXIT.usage);
}

/** Splits the text into entries: comments dropped, parentheses joining lines, quotes kept whole. */
function tokenize(text: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let current = '';
  let inToken = false;
  let quoted = false;
  let inQuotes = false;
  let depth = 0;
  let line = 1;
  let entryLine = 1;
  let blankOwner = false;
  let atLineStart = true;

  const endToken = () => {
    if (inToken) tokens.push({ text: current, quoted });
    current = '';
    inToken = false;
    quoted = false;
  };
  const endEntry = () => {
    endToken();
    if (tokens.length) entries.push({ tokens, blankOwner, line: entryLine });
    tokens = [];
  };

  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (atLineStart && depth === 0 && !inQuotes) {
      atLineStart = false;
      blankOwner = c === ' ' || c === '\t';
      entryLine = line;
    }
    if (inQuotes) {
      if (c === '\\' && i + 1 < text.length) {
        current += c + text[++i];
      } else if (c === '"') {
        inQuotes = false;
      } else {
        if (c === '\n') line++;
        current += c;
      }
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      inToken = true;
      current += c + text[++i];
    } else if (c === '"') {
      endToken();
      inToken = true;
      quoted = true;
      inQuotes = true;
    } else if (c === ';') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '(') {
      endToken();
      depth++;
    } else if (c === ')') {
      endToken();
      if (--depth < 0) fail(line, 'unbalanced ")"');
    } else if (c === '\n') {
      line++;
      if (depth === 0) {
        endEntry();
        atLineStart = true;
      } else endToken();
    } else if (c === ' ' || c === '\t' || c === '\r') {
      endToken();
    } else {
      inToken = true;
      current += c;
    }
  }
  if (inQuotes) fail(line, 'unterminated quoted string');
  if (depth > 0) fail(line, 'unclosed "("');
  endEntry();
  return entries;
}

export function parseTtl(text: string, line: number): number {
  if (/^\d+$/.test(text)) return Number(text);
  if (!TTL_PATTERN.test(text)) fail(line, `bad TTL ${JSON.stringify(text)}`);
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw]?)/gi)) {
    total += Number(n) * (UNIT_SECONDS[(unit || 's').toLowerCase()] ?? 1);
  }
  return total;
}

export function qualify(name: string, origin: string): string {
  if (name === '@') return origin;
  const lower = name.toLowerCase();
  if (lower.endsWith('.')) return lower;
  return origin === '.' ? `${lower}.` : `${lower}.${origin}`;
}

export interface ParseOptions {
  /** The zone's name, used until a $ORIGIN says otherwise. */
  origin: string;
  /** TTL for records with none, when the file has no $TTL either. */
  defaultTtl?: number;
}

export function parseZoneFile(text: string, options: ParseOptions): ZoneRecord[] {
  let origin = qualify(options.origin, '.');
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: string | undefined;
  const records: ZoneRecord[] = [];

  for (const { tokens, blankOwner, line } of tokenize(text)) {
    const first = tokens[0]!;
    if (!first.quoted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      const arg = tokens[1]?.text;
      if (directive === '$ORIGIN' && arg) origin = qualify(arg, origin);
      else if (directive === '$TTL' && arg) defaultTtl = parseTtl(arg, line);
      else fail(line, `${first.text} is not supported; expand it before importing`);
      continue;
    }
    const rest = [...tokens];
    let owner: string;
    if (blankOwner) {
      if (!lastOwner) fail(line, 'record without an owner name and no previous owner');
      owner = lastOwner;
    } else {
      owner = qualify(rest.shift()!.text, origin);
    }
    let ttl: number | undefined;
    // RFC 1035 allows TTL and class in either order before the type.
    for (let i = 0; i < 2 && rest.length > 1; i++) {
      const word = rest[0]!.text;
      if (ttl === undefined && TTL_PATTERN.test(word)) {
        ttl = parseTtl(word, line);
        rest.shift();
      } else if (CLASSES.has(word.toUpperCase())) {
        if (word.toUpperCase() !== 'IN') fail(line, `class ${word} is not supported (only IN)`);
        rest.shift();
      }
    }
    const typeToken = rest.shift();
    if (!typeToken || !/^[A-Za-z][A-Za-z0-9]*$/.test(typeToken.text)) {
      fail(
        line,
        `cannot find the record type in ${JSON.stringify(tokens.map((t) => t.text).join(' '))}`,
      );
    }
    const type = typeToken.text.toUpperCase();
    if (rest.length === 0) fail(line, `${type} record for ${owner} has no data`);
    const nameFields = NAME_FIELDS[type] ?? [];
    const rdata = rest.map((token, i) =>
      !token.quoted && nameFields.includes(i) ? qualify(token.text, origin) : token.text,
    );
    ttl ??= defaultTtl ?? lastTtl ?? options.defaultTtl;
    if (ttl === undefined) fail(line, `no TTL for ${owner} ${type} and no $TTL before it`);
    lastTtl = ttl;
    lastOwner = owner;
    records.push({ name: owner, type, ttl, rdata, line });
  }
  return records;
}
