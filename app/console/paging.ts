/**
 * API calls one "load" of a list makes at most when the API answers short pages: each call looks
 * at a bounded window of rows, so a filter that matches rarely can come back short.
 */
export const WINDOWS_PER_LOAD = 5;
