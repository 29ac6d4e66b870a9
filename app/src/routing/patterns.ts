const cache = new Map<string, RegExp>();

/** `*` matches any run of characters; everything else is literal. */
export function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === name;
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`);
    cache.set(pattern, re);
  }
  return re.test(name);
}

export const matchesAny = (patterns: readonly string[], name: string): boolean =>
  patterns.some((p) => matchesPattern(p, name));

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
