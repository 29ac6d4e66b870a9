import { hashKey } from './secrets.ts';
import type { KeyRecord, KeyStore, Store } from './types.ts';

export interface KeyCacheOptions {
  /** How long a found key is trusted: the bound on seeing another process's change. @default 2000 */
  readonly ttlMs?: number;
  /** How long an unknown secret stays unknown (brute force then costs the store nothing). @default 500 */
  readonly negativeTtlMs?: number;
  /** How often the keys version is polled, so another process's change usually shows sooner. @default 500 */
  readonly versionEveryMs?: number;
  /** Entries kept at most; the oldest go first. @default 10000 */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly value: Promise<KeyRecord | null>;
  until: number;
}

/**
 * Key lookup by secret, cached briefly by the secret's hash (the secret itself is not kept):
 * a hit answers without touching the store. Any key written through this object clears the
 * cache at once; a change made elsewhere (another worker, host or the keys CLI) moves the
 * store's keys version, which is polled every `versionEveryMs` in the background, and at the
 * latest an entry is dropped after `ttlMs`. So a new, changed or disabled key is seen by every
 * process within ttlMs (2 s by default), usually within versionEveryMs. Spend and holds in a
 * cached record may be up to ttlMs old: the ledger, not the record, decides what a key may spend.
 */
export class CachedKeyStore implements KeyStore {
  readonly #inner: KeyStore;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #versionEveryMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #version: number | undefined;
  #nextPoll = 0;

  constructor(inner: KeyStore, options: KeyCacheOptions = {}) {
    this.#inner = inner;
    this.#ttlMs = options.ttlMs ?? 2000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 500;
    this.#versionEveryMs = options.versionEveryMs ?? 500;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  findBySecret(secret: string): Promise<KeyRecord | null> {
    const now = this.#now();
    if (now >= this.#nextPoll) this.#poll(now);
    const hash = hashKey(secret);
    const hit = this.#entries.get(hash);
    if (hit && hit.until > now) return hit.value;
    const value = this.#inner.findBySecret(secret);
    const entry: Entry = { value, until: now + this.#ttlMs };
    if (hit) this.#entries.delete(hash);
    else if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(hash, entry);
    value.then(
      (key) => {
        if (key === null) entry.until = Math.min(entry.until, now + this.#negativeTtlMs);
      },
      () => {
        if (this.#entries.get(hash) === entry) this.#entries.delete(hash);
      },
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

  /** Forgets every entry. */
  invalidate(): void {
    this.#entries.clear();
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

/** The same store, its key lookups cached (the admin API's key writes included, so they clear it). */
export function withKeyCache(store: Store, options?: KeyCacheOptions): Store {
  const keys = new CachedKeyStore(store.keys, options);
  return {
    keys,
    ledger: store.ledger,
    usage: store.usage,
    rates: store.rates,
    admin: { ...store.admin, keys },
    close: () => store.close(),
  };
}
