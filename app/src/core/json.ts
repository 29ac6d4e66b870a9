/**
 * Reading JSON from a client or an upstream without trusting its shape: a field of the wrong
 * type reads as absent. Every dialect and provider reads its wire format through these.
 */
export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** A non-negative count, or undefined. */
export const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
