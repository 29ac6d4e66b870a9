import type { ChannelConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { adapterFor } from '../providers/registry.ts';
import type { Clock } from './clock.ts';
import { matchesAny } from './patterns.ts';
import type { UpstreamClient } from './upstream-client.ts';

const FRESH_MS = 10 * 60_000;
const RETRY_MS = 60_000;
const TIMEOUTS = { connectMs: 3_000, firstByteMs: 5_000, idleMs: 5_000 };
const LOAD_DEADLINE_MS = 5_000;

interface Entry {
  ids: readonly string[];
  at: number;
  refreshing?: Promise<void>;
}

/**
 * The concrete model ids clients may pick. Literal model names and aliases come from the
 * config; a channel configured with patterns (`gpt-*`, as channels from environment variables
 * are) is asked for its model list, kept for ten minutes, so a model picker is never empty.
 * An upstream that cannot answer just contributes nothing until the next try.
 */
export class ModelCatalog {
  readonly #channels: readonly ChannelConfig[];
  readonly #upstream: UpstreamClient;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();

  constructor(deps: {
    channels: readonly ChannelConfig[];
    upstream: UpstreamClient;
    clock: Clock;
    logger: Logger;
  }) {
    this.#channels = deps.channels.filter((c) => c.enabled);
    this.#upstream = deps.upstream;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  /** Model id → the channel that first offers it. */
  async list(): Promise<Map<string, string>> {
    await Promise.all(
      this.#channels
        .filter((c) => c.models.some((m) => m.includes('*')))
        .map((c) => this.#refresh(c)),
    );
    const ids = new Map<string, string>();
    for (const ch of this.#channels) {
      const offered = [
        ...ch.models.filter((m) => !m.includes('*')),
        ...Object.keys(ch.modelMap),
        ...(this.#entries.get(ch.name)?.ids ?? []),
      ];
      for (const id of offered) if (!ids.has(id)) ids.set(id, ch.name);
    }
    return ids;
  }

  /**
   * Only the very first load is waited for; after that a stale list is served as is while a
   * fresh one loads in the background, so a slow upstream never stalls a model picker.
   */
  async #refresh(channel: ChannelConfig): Promise<void> {
    const entry = this.#entries.get(channel.name);
    const loading = this.#load(channel);
    if (!entry) await loading;
  }

  #load(channel: ChannelConfig): Promise<void> {
    const entry = this.#entries.get(channel.name);
    const now = this.#clock.now();
    if (entry?.refreshing) return entry.refreshing;
    if (entry && now - entry.at < (entry.ids.length > 0 ? FRESH_MS : RETRY_MS))
      return Promise.resolve();
    const next: Entry = { ids: entry?.ids ?? [], at: now };
    next.refreshing = this.#fetch(channel)
      .then(
        (ids) => {
          next.ids = ids;
        },
        (err: unknown) => {
          // Kind only: an upstream's error text can quote the key it was sent.
          this.#logger.warn(
            {
              channel: channel.name,
              kind: (err as { failure?: { kind?: string } }).failure?.kind ?? 'unknown',
            },
            'could not list upstream models',
          );
        },
      )
      .finally(() => {
        next.at = this.#clock.now();
        delete next.refreshing;
      });
    this.#entries.set(channel.name, next);
    return next.refreshing;
  }

  async #fetch(channel: ChannelConfig): Promise<string[]> {
    const adapter = adapterFor(channel.type);
    const req = adapter.buildListModels(channel);
    const res = await this.#upstream.request({
      url: req.url,
      method: 'GET',
      headers: req.headers,
      timeouts: TIMEOUTS,
      // One overall deadline: a list that trickles in must not hold the first caller for long.
      signal: AbortSignal.timeout(LOAD_DEADLINE_MS),
    });
    if (res.status !== 200) {
      await res.text(4096).catch(() => '');
      throw Object.assign(new Error('model list failed'), {
        failure: { kind: `http-${res.status}` },
      });
    }
    const ids = adapter.parseModelList(JSON.parse(await res.text(4 * 1024 * 1024)));
    return ids.filter((id) => matchesAny(channel.models, id));
  }
}
