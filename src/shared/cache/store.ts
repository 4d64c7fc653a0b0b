/**
 * Where cached entries live. Two implementations: this process's memory, bounded by a number of
 * entries (the embedded default), and Redis, shared by every process (REDIS_URL). The cache on
 * top (shared-cache.ts) knows nothing of either.
 */

/** One cached value with its freshness, as kept by a store. */
export interface StoredEntry {
  /** The value (JSON-safe: the Redis store keeps it as JSON). */
  v: unknown;
  /** Fresh until this time (ms since the epoch); then served stale while one refresh runs. */
  f: number;
  /** Gone at this time. */
  s: number;
  /** The namespace generation it was loaded under (namespaces invalidated as a whole). */
  g?: number;
}

/** An invalidation as other processes hear it. */
export interface InvalidationMessage {
  /** The process that sent it (it ignores its own). */
  from: string;
  namespace: string;
  /** Keys dropped; absent: the whole namespace (a new generation). */
  keys?: string[];
}

export interface CacheStore {
  /** Whether other processes share the entries (and hear invalidations). */
  readonly shared: boolean;
  /** Entries of `keys` (null when absent or expired) and the current value of `generationKey`. */
  read(
    keys: string[],
    generationKey?: string,
  ): Promise<{ entries: (StoredEntry | null)[]; generation: number }>;
  write(items: { key: string; entry: StoredEntry }[]): Promise<void>;
  remove(keys: string[]): Promise<void>;
  /** Starts a new generation of a namespace; returns it. */
  nextGeneration(generationKey: string): Promise<number>;
  /** Tells the other processes (a no-op for a store of one process). */
  publish(message: InvalidationMessage): Promise<void>;
  onMessage(listener: (message: InvalidationMessage) => void): void;
  close(): Promise<void>;
}

/**
 * This process's memory, least recently used entries evicted first once `maxEntries` are held.
 * Values are kept as they are (no copy): callers treat cached values as immutable.
 */
export class MemoryStore implements CacheStore {
  readonly shared = false;
  private readonly entries = new Map<string, StoredEntry>();
  /** Generations are few (one per namespace) and never evicted: a lost one could revive old entries. */
  private readonly generations = new Map<string, number>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  async read(keys: string[], generationKey?: string) {
    const now = Date.now();
    const entries = keys.map((key) => {
      const e = this.entries.get(key);
      if (!e) return null;
      this.entries.delete(key);
      if (e.s <= now) return null;
      this.entries.set(key, e); // most recently used last
      return e;
    });
    return { entries, generation: generationKey ? (this.generations.get(generationKey) ?? 0) : 0 };
  }

  async write(items: { key: string; entry: StoredEntry }[]): Promise<void> {
    for (const { key, entry } of items) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  async remove(keys: string[]): Promise<void> {
    for (const k of keys) this.entries.delete(k);
  }

  async nextGeneration(generationKey: string): Promise<number> {
    const g = (this.generations.get(generationKey) ?? 0) + 1;
    this.generations.set(generationKey, g);
    return g;
  }

  async publish(): Promise<void> {}

  onMessage(): void {}

  async close(): Promise<void> {
    this.entries.clear();
  }
}
