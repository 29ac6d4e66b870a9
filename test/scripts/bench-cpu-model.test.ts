import { describe, expect, it } from 'vitest';
import { cpuLabel } from '../../bench/cpu-model.ts';

/** The head of /proc/cpuinfo on the VM of 2026-12-08 (one processor of two). */
const cpuinfo = [
  'processor\t: 0',
  'vendor_id\t: AuthenticAMD',
  'cpu family\t: 25',
  'model\t\t: 17',
  'model name\t: AMD EPYC',
  'stepping\t: 1',
  'cpu MHz\t\t: 2596.138',
  '',
  'processor\t: 1',
  'cpu family\t: 25',
  'model\t\t: 17',
].join('\n');

describe("the bench's CPU label", () => {
  it('adds the family and model numbers, not the model name or the stepping', () => {
    expect(cpuLabel('AMD EPYC', cpuinfo)).toBe('AMD EPYC (family 25, model 17)');
  });

  it('is the model name alone where there is no /proc/cpuinfo or no family in it', () => {
    expect(cpuLabel('Apple M3', undefined)).toBe('Apple M3');
    expect(cpuLabel('AMD EPYC', 'processor\t: 0\nmodel name\t: AMD EPYC\n')).toBe('AMD EPYC');
  });
});
