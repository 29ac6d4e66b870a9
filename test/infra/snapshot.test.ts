import { beforeAll, describe, expect, it } from 'vitest';
import { fakeBundle, normalizedTemplate, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

// One snapshot per stack of the default app; a diff here is a change to what gets deployed.
describe('synthesized templates (cdk.json defaults)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  });

  it.each(['stateful', 'certificate', 'relay', 'monitoring'] as const)('%s stack', (stack) => {
    const template = normalizedTemplate(s[stack]);
    expect(JSON.stringify(template)).not.toMatch(/[0-9a-f]{64}/);
    expect(template).toMatchSnapshot();
  });

  it('are stable across bundle contents once hashes are normalized', () => {
    const other = synth({ bundleDir: fakeBundle('different bytes') });
    expect(normalizedTemplate(other.relay)).toEqual(normalizedTemplate(s.relay));
  });
});
