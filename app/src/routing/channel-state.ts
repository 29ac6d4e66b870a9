import type { ChannelConfig } from '../config.ts';
import type { ChannelOverride, ChannelOverrides } from '../store/admin-types.ts';
import type { Clock } from './clock.ts';

/** How stale another process's switch may be seen here (cluster workers each keep a copy). */
const REFRESH_MS = 5_000;

/**
 * Channels switched off (or back on) at runtime from the admin console, on top of the config's
 * `enabled`. The switches live in the store, so they outlive a restart; each process keeps a
 * copy that it refreshes in the background, so choosing channels never waits on the store.
 */
export class ChannelState {
  readonly #source: ChannelOverrides;
  readonly #clock: Clock;
  #overrides = new Map<string, ChannelOverride>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  /** Bumped by every set(): a read that started before it must not undo it. */
  #generation = 0;

  constructor(source: ChannelOverrides, clock: Clock) {
    this.#source = source;
    this.#clock = clock;
  }

  /** Whether requests may go to `channel` now; a plain function, to hand to a filter. */
  readonly isOn = (channel: ChannelConfig): boolean => {
    if (this.#clock.now() - this.#loadedAt > REFRESH_MS) void this.load().catch(() => {});
    return channel.enabled && (this.#overrides.get(channel.name)?.enabled ?? true);
  };

  override(name: string): ChannelOverride | undefined {
    return this.#overrides.get(name);
  }

  /** Reads the switches from the store; the relay awaits the first read before it serves. */
  load(): Promise<void> {
    const generation = this.#generation;
    this.#loading ??= this.#source
      .list()
      .then((list) => {
        // A switch made meanwhile is newer than this read; the next refresh reads it back.
        if (generation !== this.#generation) return;
        this.#overrides = new Map(list.map((o) => [o.channel, o]));
        this.#loadedAt = this.#clock.now();
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** Switches a channel; this process sees it at once, other processes within REFRESH_MS. */
  async set(override: ChannelOverride): Promise<void> {
    await this.#source.set(override);
    this.#generation++;
    this.#overrides.set(override.channel, override);
  }
}

/** For an app without an admin store (some tests): switches last as long as the process. */
export function memoryChannelOverrides(): ChannelOverrides {
  const map = new Map<string, ChannelOverride>();
  return {
    list: async () => [...map.values()],
    set: async (o) => void map.set(o.channel, o),
    clear: async (name) => void map.delete(name),
  };
}
