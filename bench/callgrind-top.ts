/**
 * `node bench/callgrind-top.ts <folder> [name]`: where a target's main thread spent its
 * instructions, per request, from the files `npm run bench:instructions` keeps with
 * BENCH_IR_KEEP=<dir> (the folder is <dir>/relay or <dir>/floor), JIT code named from the V8
 * perf map kept with them (JavaScript without a map shows as addresses). Prints the top functions
 * by their own instructions and by inclusive ones (own plus what they called; recursion through
 * other functions is counted at each level, so inclusive can overstate). With a name (any part
 * of one), prints who called the functions it matches and what they called instead.
 *
 * Env: BENCH_IR_WINDOWS and BENCH_IR_REQUESTS as the run had them (5 and 2000), TOP (40).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { addFunctionCosts, nameIn, parsePerfMap } from './callgrind.ts';
import type { FunctionCost } from './callgrind.ts';
import { envInt } from './env.ts';
import { table } from './processes.ts';

const WINDOWS = envInt('BENCH_IR_WINDOWS', 5);
const PER_WINDOW = envInt('BENCH_IR_REQUESTS', 2_000);
const TOP = envInt('TOP', 40);

const say = (s = '') => process.stdout.write(`${s}\n`);
// Piped into head: stop quietly once the reader has gone.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

function readMap(folder: string) {
  try {
    return parsePerfMap(readFileSync(join(folder, 'perf.map'), 'utf8'));
  } catch {
    return parsePerfMap('');
  }
}

function main(): void {
  const [folder, focus] = process.argv.slice(2);
  if (!folder) {
    process.stderr.write('usage: node bench/callgrind-top.ts <folder> [name]\n');
    process.exit(2);
  }
  const map = readMap(folder);
  const fns = new Map<string, FunctionCost>();
  // The main thread's file of each counted window: callgrind.out.<window>-01.
  const files = readdirSync(folder).filter((f) => {
    const m = /^callgrind\.out\.(\d+)-0*1$/.exec(f);
    return m !== null && Number(m[1]) <= WINDOWS;
  });
  if (files.length === 0) throw new Error(`no main-thread callgrind files in ${folder}`);
  for (const f of files) {
    addFunctionCosts(readFileSync(join(folder, f), 'utf8'), fns, (fn) => nameIn(map, fn));
  }
  const requests = files.length * PER_WINDOW;
  const k = (n: number) => (n / requests / 1000).toFixed(2);
  const cut = (s: string) => s.slice(0, 120);
  if (focus) {
    for (const [name, f] of fns) {
      if (!name.includes(focus)) continue;
      say(`${cut(name)}: own ${k(f.self)}, inclusive ${k(f.self + f.calls)} thousand a request`);
      const callers = [...fns].flatMap(([n, g]) => {
        const cost = g.callees.get(name);
        return cost ? [[n, cost] as const] : [];
      });
      const list = (label: string, xs: (readonly [string, number])[]) => {
        for (const [n, cost] of xs.sort((a, b) => b[1] - a[1]).slice(0, TOP))
          say(`  ${label} ${k(cost).padStart(7)}  ${cut(n)}`);
      };
      list('from ', callers);
      list('calls', [...f.callees]);
    }
    return;
  }
  const total = [...fns.values()].reduce((a, f) => a + f.self, 0);
  const top = (key: (f: FunctionCost) => number) =>
    [...fns]
      .sort((a, b) => key(b[1]) - key(a[1]))
      .slice(0, TOP)
      .map(([n, f]) => [k(f.self), k(f.self + f.calls), cut(n)]);
  say(
    `${files.length} windows of ${PER_WINDOW} requests; main thread ${k(total)} thousand a request`,
  );
  say();
  say('By own instructions (thousand a request):');
  say(
    table(
      ['own', 'inclusive', 'function'],
      top((f) => f.self),
    ),
  );
  say();
  say('By inclusive instructions:');
  say(
    table(
      ['own', 'inclusive', 'function'],
      top((f) => f.self + f.calls),
    ),
  );
}

main();
