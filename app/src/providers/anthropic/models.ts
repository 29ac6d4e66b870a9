/**
 * What a model behind an `anthropic` channel accepts, read from its name. Claude generations
 * differ in ways a translated request must respect or be refused with a 400
 * (platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting):
 * - 4.6 and later think adaptively (`thinking: {type: "adaptive"}` + `output_config.effort`);
 *   4.7 and later refuse `thinking: {type: "enabled", budget_tokens}` outright, and earlier
 *   models know only that form.
 * - 4.7 and later refuse `temperature`, `top_p` and `top_k`.
 * - Fable and Mythos always think and refuse `thinking: {type: "disabled"}`.
 * Names without a Claude version (third-party Anthropic-compatible endpoints: DeepSeek, Kimi,
 * GLM) get the long-standing request shape those endpoints implement.
 */

export interface ModelTraits {
  /** Takes `thinking: {type: "adaptive"}` with an effort rather than a token budget. */
  readonly adaptiveThinking: boolean;
  /** Refuses a token budget (`thinking.type: "enabled"`). */
  readonly refusesBudget: boolean;
  /** Refuses temperature, top_p and top_k. */
  readonly refusesSampling: boolean;
  /** Refuses `thinking: {type: "disabled"}` (thinking cannot be turned off). */
  readonly refusesDisabledThinking: boolean;
}

/** [major, minor] of a Claude model name, in either order (`claude-3-7-sonnet`, `claude-opus-4-7`). */
export function claudeVersion(model: string): readonly [number, number] | undefined {
  const name = model.toLowerCase().replace(/\./g, '-');
  if (!name.startsWith('claude')) return undefined;
  // Version parts are 1–2 digits; a date stamp (20250929) is not one.
  const parts = name.split('-');
  const first = parts.findIndex((p) => /^\d{1,2}$/.test(p));
  if (first < 0) return undefined;
  const minor = parts[first + 1];
  return [Number(parts[first]), minor && /^\d{1,2}$/.test(minor) ? Number(minor) : 0];
}

const atLeast = (v: readonly [number, number], major: number, minor: number) =>
  v[0] > major || (v[0] === major && v[1] >= minor);

export function modelTraits(model: string): ModelTraits {
  const name = model.toLowerCase();
  const claude = name.startsWith('claude');
  const version = claudeVersion(name);
  // A Claude name without a version (claude-mythos-preview) is a new model: treat it as one.
  const modern = claude && (version === undefined || atLeast(version, 4, 6));
  const newest = claude && (version === undefined || atLeast(version, 4, 7));
  return {
    adaptiveThinking: modern,
    refusesBudget: newest,
    refusesSampling: newest,
    refusesDisabledThinking: claude && /fable|mythos/.test(name),
  };
}
