import { readFileSync } from 'node:fs';

/** One CPU's counters from /proc/stat, in clock ticks. */
export interface CpuTicks {
  /** Time the hypervisor ran something else while this virtual CPU wanted to run. */
  readonly steal: number;
  /** Every state, steal included (guest time is already inside user and nice). */
  readonly total: number;
}

/**
 * Each CPU's ticks by number, parsed from /proc/stat's text: `cpuN user nice system idle iowait
 * irq softirq steal guest guest_nice`. The aggregate `cpu` line is left out.
 */
export function parseProcStat(text: string): Map<number, CpuTicks> {
  const cpus = new Map<number, CpuTicks>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    cpus.set(Number(m[1]), { steal: f[7] ?? 0, total });
  }
  return cpus;
}

/** /proc/stat now, or an empty map where there is none (not Linux). */
export function readCpuTicks(): Map<number, CpuTicks> {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return new Map();
  }
}

/**
 * The share of some CPUs' time the host took between two readings, in %: on a VM, the time
 * other guests (or the host) had the physical cores while these waited. `cpus` undefined: every
 * CPU. NaN when unknown.
 */
export function stealPct(
  before: ReadonlyMap<number, CpuTicks>,
  after: ReadonlyMap<number, CpuTicks>,
  cpus?: readonly number[],
): number {
  let steal = 0;
  let total = 0;
  for (const cpu of cpus ?? [...after.keys()]) {
    const a = before.get(cpu);
    const b = after.get(cpu);
    if (!a || !b) return NaN;
    steal += b.steal - a.steal;
    total += b.total - a.total;
  }
  return total > 0 ? (steal / total) * 100 : NaN;
}
