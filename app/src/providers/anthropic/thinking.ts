/**
 * The neutral thinking settings as a Messages request says them, for the model at hand (see
 * models.ts for why the model decides the shape).
 */
import type { Effort, ThinkingConfig } from '../../core/chat.ts';
import type { ModelTraits } from './models.ts';

/** Anthropic's smallest thinking budget; a smaller one is refused. */
export const MIN_BUDGET = 1024;

/**
 * Effort → budget for models that only take a budget. low/medium/high are LiteLLM's defaults
 * (DEFAULT_REASONING_EFFORT_{LOW,MEDIUM,HIGH}_THINKING_BUDGET), so a client moving from LiteLLM
 * sees the same spend; minimal is Anthropic's floor and xhigh/max keep doubling.
 */
export const EFFORT_BUDGET: Readonly<Record<Effort, number>> = {
  minimal: MIN_BUDGET,
  low: 1024,
  medium: 2048,
  high: 4096,
  xhigh: 8192,
  max: 16384,
};

export type AnthropicEffort = 'low' | 'medium' | 'high' | 'xhigh' | 'max';

/** Anthropic has no `minimal`; its lowest effort is the nearest. */
export function anthropicEffort(effort: Effort): AnthropicEffort {
  return effort === 'minimal' ? 'low' : effort;
}

/**
 * Budget → effort for models that only take an effort (a Gemini or Anthropic-style budget sent
 * to Claude 4.7+). The inverse of EFFORT_BUDGET, capped at `high`: the one level above medium
 * every effort-taking model accepts.
 */
export function effortForBudget(budget: number): AnthropicEffort {
  if (budget <= EFFORT_BUDGET.low) return 'low';
  if (budget <= EFFORT_BUDGET.medium) return 'medium';
  return 'high';
}

export interface ThinkingParams {
  readonly thinking?: Record<string, unknown>;
  readonly effort?: AnthropicEffort;
  /** max_tokens, raised when a budget needs room under it. */
  readonly maxTokens: number;
}

/**
 * `forcedTool`: tool_choice any/tool. Budget thinking refuses forced tool use (a 400), and the
 * forced call is what the client's code waits for, so thinking gives way.
 */
export function thinkingParams(
  config: ThinkingConfig | undefined,
  traits: ModelTraits,
  maxTokens: number,
  forcedTool: boolean,
): ThinkingParams {
  if (!config) return { maxTokens };
  if (!config.enabled) {
    // Where thinking cannot be turned off, leaving it out is the only request that works.
    return traits.refusesDisabledThinking
      ? { maxTokens }
      : { thinking: { type: 'disabled' }, maxTokens };
  }
  if (traits.adaptiveThinking) {
    const effort = config.effort
      ? anthropicEffort(config.effort)
      : config.budgetTokens !== undefined
        ? effortForBudget(config.budgetTokens)
        : undefined;
    return { thinking: { type: 'adaptive' }, ...(effort && { effort }), maxTokens };
  }
  if (forcedTool) return { maxTokens };
  const budget = Math.max(
    MIN_BUDGET,
    config.budgetTokens ?? EFFORT_BUDGET[config.effort ?? 'medium'],
  );
  // The budget must stay below max_tokens; the answer keeps the room the client asked for.
  return {
    thinking: { type: 'enabled', budget_tokens: budget },
    maxTokens: maxTokens > budget ? maxTokens : budget + maxTokens,
  };
}
