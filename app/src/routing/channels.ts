import type { ChannelConfig } from '../config.ts';
import { matchesAny } from './patterns.ts';

/** One way to serve a client's model: a channel and the name its upstream knows the model by. */
export interface Route {
  readonly channel: ChannelConfig;
  readonly upstreamModel: string;
}

/** Every enabled channel that serves `model`, directly or through a `modelMap` alias. */
export function routesFor(channels: readonly ChannelConfig[], model: string): Route[] {
  const routes: Route[] = [];
  for (const channel of channels) {
    if (!channel.enabled) continue;
    const mapped = Object.hasOwn(channel.modelMap, model) ? channel.modelMap[model] : undefined;
    if (mapped !== undefined) routes.push({ channel, upstreamModel: mapped });
    else if (matchesAny(channel.models, model)) routes.push({ channel, upstreamModel: model });
  }
  return routes;
}

/**
 * Attempt order: lower priority first; within a priority, a weighted random shuffle so that
 * weight splits load and every channel still gets its turn when another fails.
 */
export function orderRoutes(routes: readonly Route[], random: () => number = Math.random): Route[] {
  const byPriority = new Map<number, Route[]>();
  for (const r of routes) {
    const list = byPriority.get(r.channel.priority) ?? [];
    list.push(r);
    byPriority.set(r.channel.priority, list);
  }
  return [...byPriority.keys()]
    .sort((a, b) => a - b)
    .flatMap((p) => weightedShuffle(byPriority.get(p) ?? [], random));
}

function weightedShuffle(routes: Route[], random: () => number): Route[] {
  const pool = [...routes];
  const out: Route[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, r) => s + r.channel.weight, 0);
    let pick = random() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      pick -= pool[i]!.channel.weight;
      if (pick < 0) break;
    }
    out.push(...pool.splice(i, 1));
  }
  return out;
}

/** The concrete model ids a client may ask for: literal model names and aliases, no patterns. */
export function listModelIds(channels: readonly ChannelConfig[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const ch of channels) {
    if (!ch.enabled) continue;
    for (const m of ch.models) if (!m.includes('*') && !ids.has(m)) ids.set(m, ch.name);
    for (const alias of Object.keys(ch.modelMap)) if (!ids.has(alias)) ids.set(alias, ch.name);
  }
  return ids;
}
