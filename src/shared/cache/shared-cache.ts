import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CacheStore, InvalidationMessage, StoredEntry } from './store';

export interface NamespaceOptions {
  /** How long a loaded value is fresh (0: the namespace is off, every read loads). */
  freshMs: number;
  /** After that, how long it is still served while one refresh runs in the background. */
  staleMs: number;
  /**
   * Invalidated as a whole (search pages: no key lists the products a page shows): entries carry
   * the namespace's generation, and `invalidateAll` starts a new one.
   */
  generational?: boolean;
}

/** Loads the values of keys that are not cached; a key it leaves out is cached as null (not found). */
export type Loader<V> = (keys: string[]) => Promise<Map<string, V>>;

/** A load in flight: invalidations that arrive meanwhile keep it from being stored. */
interface Flight {
  dirty: Set<string>;
  all: boolean;
}

/** How long after an invalidation the keys are deleted once more (Redis: a load racing the first delete). */
const SECOND_DELETE_MS = 500;

/**
 * A cache in front of PostgreSQL for read-heavy data, over a store (memory or Redis).
 *
 * - Single flight: concurrent reads of one key in this process share one lookup and, on a miss,
 *   one load (a thousand requests for a cold product page make one database read).
 * - Stale while revalidate: a value past its fresh time is still served, for `staleMs`, while one
 *   background refresh replaces it; an invalidated value is never served.
 * - Invalidation: by key, or a whole namespace by generation. A load that was in flight when an
 *   invalidation arrived (here, or from another process over the store's channel) is returned to
 *   its callers but not stored, so a read that saw the database before a change cannot put the
 *   old value back after it.
 */
export class SharedCache {
  readonly id = randomUUID();
  private readonly namespaces = new Map<string, CacheNamespace<any>>();

  constructor(
    readonly store: CacheStore,
    readonly log?: Logger,
  ) {
    store.onMessage((m) => {
      if (m.from !== this.id) this.namespaces.get(m.namespace)?.heard(m.keys);
    });
  }

  namespace<V>(name: string, opts: NamespaceOptions): CacheNamespace<V> {
    const ns = new CacheNamespace<V>(this, name, opts);
    this.namespaces.set(name, ns);
    return ns;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

export class CacheNamespace<V> {
  private readonly inflight = new Map<string, Promise<V | null>>();
  private readonly flights = new Set<Flight>();
  private readonly refreshing = new Set<string>();
  private readonly generationKey?: string;
  /** Loads made and lookups answered, for tests and metrics. */
  readonly stats = { loads: 0, loadedKeys: 0, hits: 0, staleHits: 0, misses: 0, refreshes: 0 };

  constructor(
    private readonly cache: SharedCache,
    readonly name: string,
    private readonly opts: NamespaceOptions,
  ) {
    if (opts.generational) this.generationKey = `${name}:generation`;
  }

  get enabled(): boolean {
    return this.opts.freshMs > 0;
  }

  private get store(): CacheStore {
    return this.cache.store;
  }

  private full(key: string): string {
    return `${this.name}:${key}`;
  }

  /** One value; `load` runs only on a miss, once for all concurrent callers. */
  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const m = await this.getMany([key], async () => {
      const v = await load();
      return new Map(v === null ? [] : [[key, v]]);
    });
    return m.get(key) ?? null;
  }

  /** Values of `keys` (null: not found); `load` gets the keys that are neither cached nor in flight. */
  async getMany(keys: string[], load: Loader<V>): Promise<Map<string, V | null>> {
    const out = new Map<string, V | null>();
    if (!this.enabled) {
      const loaded = await load([...new Set(keys)]);
      for (const k of keys) out.set(k, loaded.get(k) ?? null);
      return out;
    }
    const waits: Promise<void>[] = [];
    const mine: string[] = [];
    for (const k of new Set(keys)) {
      const pending = this.inflight.get(k);
      if (pending) waits.push(pending.then((v) => void out.set(k, v)));
      else mine.push(k);
    }
    if (mine.length) {
      // Registered before the first await, so callers arriving meanwhile join this lookup.
      const batch = this.lookup(mine, load);
      for (const k of mine) {
        const p = batch.then((m) => m.get(k) ?? null);
        this.inflight.set(k, p);
        const clear = () => {
          if (this.inflight.get(k) === p) this.inflight.delete(k);
        };
        p.then(clear, clear);
        waits.push(p.then((v) => void out.set(k, v)));
      }
    }
    await Promise.all(waits);
    return out;
  }

  /** What is cached for `keys` now (absent keys: nothing cached), without loading anything. */
  async peek(keys: string[]): Promise<Map<string, V | null>> {
    const out = new Map<string, V | null>();
    if (!this.enabled || keys.length === 0) return out;
    const read = await this.guard('read', () =>
      this.store.read(
        keys.map((k) => this.full(k)),
        this.generationKey,
      ),
    );
    read?.entries.forEach((e, i) => {
      if (e && (!this.generationKey || e.g === read.generation)) out.set(keys[i], e.v as V | null);
    });
    return out;
  }

  /** Drops keys here and, through the store, everywhere. */
  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    this.heard(keys);
    const full = keys.map((k) => this.full(k));
    await this.guard('invalidate', () => this.store.remove(full));
    if (this.store.shared) {
      await this.guard('publish', () =>
        this.store.publish({ from: this.cache.id, namespace: this.name, keys }),
      );
      setTimeout(
        () => void this.guard('invalidate', () => this.store.remove(full)),
        SECOND_DELETE_MS,
      ).unref();
    }
  }

  /** Drops the whole namespace (a new generation; old entries expire by themselves). */
  async invalidateAll(): Promise<void> {
    if (!this.generationKey) throw new Error(`cache namespace ${this.name} is not generational`);
    this.heard(undefined);
    await this.guard('invalidate', () => this.store.nextGeneration(this.generationKey!));
    if (this.store.shared)
      await this.guard('publish', () => this.store.publish({ from: this.cache.id, namespace: this.name }));
  }

  /** An invalidation (from here or another process): loads in flight must not store what they read. */
  heard(keys: string[] | undefined): void {
    for (const f of this.flights) {
      if (keys) keys.forEach((k) => f.dirty.add(k));
      else f.all = true;
    }
    if (keys) keys.forEach((k) => this.inflight.delete(k));
    else this.inflight.clear();
  }

  private async lookup(keys: string[], load: Loader<V>): Promise<Map<string, V | null>> {
    const flight: Flight = { dirty: new Set(), all: false };
    this.flights.add(flight);
    try {
      const read = await this.guard('read', () =>
        this.store.read(
          keys.map((k) => this.full(k)),
          this.generationKey,
        ),
      );
      const entries = read?.entries ?? keys.map(() => null);
      const generation = read?.generation ?? 0;
      const now = Date.now();
      const out = new Map<string, V | null>();
      const missing: string[] = [];
      const stale: string[] = [];
      keys.forEach((k, i) => {
        const e = entries[i];
        if (!e || (this.generationKey && e.g !== generation)) return missing.push(k);
        out.set(k, e.v as V | null);
        if (e.f <= now) stale.push(k);
      });
      this.stats.hits += keys.length - missing.length - stale.length;
      this.stats.staleHits += stale.length;
      this.stats.misses += missing.length;
      if (missing.length) {
        const loaded = await this.load(missing, load);
        for (const k of missing) out.set(k, loaded.get(k) ?? null);
        // Not stored when the store could not be read either (it is away), or keys went dirty.
        if (read) await this.save(missing, loaded, generation, flight);
      }
      if (stale.length) void this.refresh(stale, load, generation);
      return out;
    } finally {
      this.flights.delete(flight);
    }
  }

  /** One background reload of stale keys (per process), stored unless they were invalidated meanwhile. */
  private async refresh(keys: string[], load: Loader<V>, generation: number): Promise<void> {
    const todo = keys.filter((k) => !this.refreshing.has(k));
    if (todo.length === 0) return;
    todo.forEach((k) => this.refreshing.add(k));
    const flight: Flight = { dirty: new Set(), all: false };
    this.flights.add(flight);
    try {
      this.stats.refreshes++;
      const loaded = await this.load(todo, load);
      await this.save(todo, loaded, generation, flight);
    } catch (e) {
      this.cache.log?.warn({ err: String(e), namespace: this.name }, 'cache refresh failed');
    } finally {
      this.flights.delete(flight);
      todo.forEach((k) => this.refreshing.delete(k));
    }
  }

  private async load(keys: string[], load: Loader<V>): Promise<Map<string, V>> {
    this.stats.loads++;
    this.stats.loadedKeys += keys.length;
    return load(keys);
  }

  private async save(keys: string[], loaded: Map<string, V>, generation: number, flight: Flight) {
    if (flight.all) return;
    const now = Date.now();
    const items = keys
      .filter((k) => !flight.dirty.has(k))
      .map((k) => {
        const entry: StoredEntry = {
          v: loaded.get(k) ?? null,
          f: now + this.opts.freshMs,
          s: now + this.opts.freshMs + this.opts.staleMs,
        };
        if (this.generationKey) entry.g = generation;
        return { key: this.full(k), entry };
      });
    await this.guard('write', () => this.store.write(items));
  }

  /** Store trouble (Redis away) is logged and taken as a miss: the database answers instead. */
  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      this.cache.log?.warn({ err: String(e), namespace: this.name }, `cache ${what} failed`);
      return undefined;
    }
  }
}

export type { InvalidationMessage };
