import { isObject } from './json.ts';

/**
 * A tool call's arguments as an object. OpenAI-style upstreams send JSON text, and models
 * sometimes send broken JSON or none; the dialects that take an object get {} for those.
 */
export function parseToolArguments(text: unknown): Record<string, unknown> {
  if (isObject(text)) return text;
  if (typeof text !== 'string' || text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
