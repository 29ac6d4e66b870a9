import { hashKey } from './secrets.ts';
import type { KeyRecord, KeyStore, Store } from './types.ts';

export interface KeyCacheOptions {
  /** How long a found key is trusted: the bound on seeing another process's change. @default 2000 */
  readonly ttlMs?: number;
  /** How long an unknown secret stays unknown (the same guess again costs the store nothing). @default 500 */
  readonly negativeTtlMs?: number;
  /** How often, at most, a lookup polls the keys version, so another process's change usually shows sooner. @default 500 */
  readonly versionEveryMs?: number;
  /** Found keys kept at most; the least recently used go first. @default 10000 */
  readonly maxEntries?: number;
  /** Unknown secrets kept at most, apart from the found keys (guesses never evict a real key). @default 1000 */
  readonly maxUnknown?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly key: KeyRecord;
  readonly until: number;
}

/**
 * Key lookup by secret, cached briefly: a hit answers without touching the store. Found keys are
 * kept by their secret, so a hit does not hash it either (SHA-256 on every request was ~1 % of
 * the relay's CPU at 10 connections); those secrets stay in this process's memory only, as the
 * requests that carried them did, for at most ttlMs, and are never logged or written. Unknown
 * secrets are kept by their hash: a guess of header size then costs 64 bytes, not kilobytes.
 * Each map is capped, so a flood of random guesses cannot push real keys out; found keys are
 * dropped least recently used first. A distinct guess costs one store read; only the same
 * guess repeated within negativeTtlMs is answered from memory.
 *
 * Any key written through this object clears the cache at once; a change made elsewhere
 * (another worker, host or the keys CLI) moves the store's keys version, which a lookup polls in
 * the background at most every `versionEveryMs`; and an entry is dropped after `ttlMs` whatever
 * the version says. So a busy process sees another's change within about versionEveryMs, and
 * any process (an idle one's first lookup answers from the cache while the poll runs) within
 * ttlMs (2 s by default). Spend and holds in a cached record may be up to ttlMs old: the ledger,
 * not the record, decides what a key may spend.
 */
export class CachedKeyStore implements KeyStore {
  readonly #inner: KeyStore;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #versionEveryMs: number;
  readonly #maxEntries: number;
  readonly #maxUnknown: number;
  readonly #now: () => number;
  /** Insertion order is recency: a hit moves its entry to the end. */
  readonly #found = new Map<string, Entry>();
  /** Unknown secrets' hashes, and until when they stay unknown. */
  readonly #unknown = new Map<string, number>();
  /** Lookups under way, shared by concurrent callers with the same secret. */
  readonly #pending = new Map<string, Promise<KeyRecord | null>>();
  /** Moves on invalidate(): a lookup begun before it must not fill the cache after it. */
  #generation = 0;
  #version: number | undefined;
  #nextPoll = 0;

  constructor(inner: KeyStore, options: KeyCacheOptions = {}) {
    this.#inner = inner;
    this.#ttlMs = options.ttlMs ?? 2000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 500;
    this.#versionEveryMs = options.versionEveryMs ?? 500;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxUnknown = options.maxUnknown ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The key of `secret` if the cache has it now, without a promise: a hit is nearly every
   * request, and authenticate() then goes on in the same turn (findBySecret's resolved promise
   * and the awaits on it were 3 of a chat request's 65 promises). Unknown secrets are for
   * findBySecret: they are kept by hash, and hashing is what a hit must not cost.
   */
  cachedBySecret(secret: string): KeyRecord | undefined {
    const now = this.#now();
    if (now >= this.#nextPoll) this.#poll(now);
    const found = this.#found.get(secret);
    if (!found) return undefined;
    this.#found.delete(secret);
    if (found.until <= now) return undefined;
    this.#found.set(secret, found);
    return found.key;
  }

  findBySecret(secret: string): Promise<KeyRecord | null> {
    const cached = this.cachedBySecret(secret);
    if (cached) return Promise.resolve(cached);
    const now = this.#now();
    const hash = hashKey(secret);
    const unknownUntil = this.#unknown.get(hash);
    if (unknownUntil !== undefined) {
      if (unknownUntil > now) return Promise.resolve(null);
      this.#unknown.delete(hash);
    }
    const pending = this.#pending.get(secret);
    if (pending) return pending;
    const generation = this.#generation;
    const value = this.#inner.findBySecret(secret).finally(() => {
      if (this.#pending.get(secret) === value) this.#pending.delete(secret);
    });
    this.#pending.set(secret, value);
    value.then(
      (key) => {
        if (generation !== this.#generation) return;
        if (key) remember(this.#found, secret, { key, until: now + this.#ttlMs }, this.#maxEntries);
        else remember(this.#unknown, hash, now + this.#negativeTtlMs, this.#maxUnknown);
      },
      // Not cached: the next lookup asks the store again.
      () => undefined,
    );
    return value;
  }

  /** Reads the keys version now (a lookup polls in the background instead, never waiting for it). */
  sync(): Promise<void> {
    return this.#poll(this.#now());
  }

  #poll(now: number): Promise<void> {
    this.#nextPoll = now + this.#versionEveryMs;
    return this.#inner.version().then(
      (version) => {
        // The first answer too: it may already count a change made after an entry was read.
        if (version !== this.#version) this.invalidate();
        this.#version = version;
      },
      // A store that cannot answer now is asked again next time; entries still expire.
      () => undefined,
    );
  }

  /** Forgets every entry (and what lookups under way will answer). */
  invalidate(): void {
    this.#generation++;
    this.#found.clear();
    this.#unknown.clear();
    this.#pending.clear();
  }

  async #write<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.invalidate();
    }
  }

  get(name: string): Promise<KeyRecord | null> {
    return this.#inner.get(name);
  }
  list(): Promise<KeyRecord[]> {
    return this.#inner.list();
  }
  version(): Promise<number> {
    return this.#inner.version();
  }
  upsertFromConfig(...args: Parameters<KeyStore['upsertFromConfig']>) {
    return this.#write(this.#inner.upsertFromConfig(...args));
  }
  create(...args: Parameters<KeyStore['create']>) {
    return this.#write(this.#inner.create(...args));
  }
  update(...args: Parameters<KeyStore['update']>) {
    return this.#write(this.#inner.update(...args));
  }
  topUp(...args: Parameters<KeyStore['topUp']>) {
    return this.#write(this.#inner.topUp(...args));
  }
  setEnabled(...args: Parameters<KeyStore['setEnabled']>) {
    return this.#write(this.#inner.setEnabled(...args));
  }
  delete(...args: Parameters<KeyStore['delete']>) {
    return this.#write(this.#inner.delete(...args));
  }
}

/** Sets `key` last (the most recent), dropping the oldest while the map is full. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  while (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/**
 * The same store, its key lookups cached (the admin API's key writes included, so they clear
 * it). Each admin part is named, not spread: a spread would drop getters and class members.
 */
export function withKeyCache(store: Store, options?: KeyCacheOptions): Store {
  const keys = new CachedKeyStore(store.keys, options);
  const admin = store.admin;
  return {
    keys,
    ledger: store.ledger,
    usage: store.usage,
    rates: store.rates,
    admin: {
      keys,
      usage: admin.usage,
      retention: admin.retention,
      audit: admin.audit,
      channels: admin.channels,
      sessions: admin.sessions,
      throttle: admin.throttle,
    },
    close: () => store.close(),
  };
}
