import { readFileSync } from 'node:fs';

/**
 * The CPU as a run's table names it: the model name, with the family and model numbers from
 * /proc/cpuinfo where they are. VMs often report a bare "AMD EPYC", yet two of its families rank
 * the relay's work differently (README, "Latest runs"): runs compare only within one.
 */
export function cpuLabel(modelName: string, cpuinfo: string | undefined): string {
  const field = (name: string) =>
    new RegExp(`^${name}\\s*:\\s*(\\S+)`, 'm').exec(cpuinfo ?? '')?.[1];
  const family = field('cpu family');
  const model = field('model');
  return family && model ? `${modelName} (family ${family}, model ${model})` : modelName;
}

/** /proc/cpuinfo's text, or undefined where there is none (not Linux). */
export function readCpuinfo(): string | undefined {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
}
