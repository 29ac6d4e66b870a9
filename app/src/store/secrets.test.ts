import { describe, expect, it } from 'vitest';
import { hashKey } from './secrets.ts';

describe('hashKey', () => {
  it('is SHA-256 in hex, as every store already holds its keys', () => {
    // FIPS 180-2's test vector for "abc".
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes the UTF-8 bytes of a key', () => {
    // SHA-256 of the UTF-8 bytes c3 a9 ("é"), not of its Latin-1 byte e9.
    expect(hashKey('é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
  });
});
