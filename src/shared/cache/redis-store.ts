import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CacheStore, InvalidationMessage, StoredEntry } from './store';

/**
 * Entries in Redis, shared by every process: an invalidation (DEL, or INCR of a namespace's
 * generation) is seen by the next read of any process. Invalidations are also published on a
 * channel so that other processes drop loads they have in flight, which read the database before
 * the change and must not be stored after it.
 *
 * Redis only speeds reads up: commands time out quickly and never queue while Redis is away, so a
 * lost Redis turns the cache into misses (reads from PostgreSQL), never into errors or waits.
 */
export class RedisStore implements CacheStore {
  readonly shared = true;
  private readonly client: Redis;
  private readonly sub: Redis;
  private readonly listeners: ((m: InvalidationMessage) => void)[] = [];
  private readonly channel: string;

  constructor(
    url: string,
    /** Prefix of every key and of the channel: one database's cache, whoever else uses the Redis. */
    private readonly prefix: string,
    log: Logger,
    commandTimeoutMs = 1000,
  ) {
    this.channel = `${prefix}invalidate`;
    const opts = { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: commandTimeoutMs };
    this.client = new Redis(url, opts);
    // The subscriber waits for its connection: it has nothing to answer in a hurry.
    this.sub = new Redis(url, { maxRetriesPerRequest: null });
    for (const c of [this.client, this.sub])
      c.on('error', (err) => log.warn({ err: err.message }, 'cache redis connection error'));
    this.sub.on('message', (_channel: string, text: string) => {
      let m: InvalidationMessage;
      try {
        m = JSON.parse(text);
      } catch {
        return;
      }
      for (const l of this.listeners) l(m);
    });
  }

  /** Subscribes, and waits (a few seconds at most) for the command connection. */
  async start(): Promise<void> {
    await this.sub.subscribe(this.channel);
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, 5000);
      this.client.once('ready', done);
    });
  }

  async read(keys: string[], generationKey?: string) {
    const all = keys.map((k) => this.prefix + k);
    if (generationKey) all.push(this.prefix + generationKey);
    const raw = all.length ? await this.client.mget(all) : [];
    const now = Date.now();
    const entries = keys.map((_, i) => {
      const text = raw[i];
      if (!text) return null;
      const e = JSON.parse(text) as StoredEntry;
      return e.s > now ? e : null;
    });
    return { entries, generation: generationKey ? Number(raw[keys.length] ?? 0) : 0 };
  }

  async write(items: { key: string; entry: StoredEntry }[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const m = this.client.multi();
    for (const { key, entry } of items)
      m.set(this.prefix + key, JSON.stringify(entry), 'PX', Math.max(1, Math.ceil(entry.s - now)));
    await m.exec();
  }

  async remove(keys: string[]): Promise<void> {
    if (keys.length) await this.client.del(...keys.map((k) => this.prefix + k));
  }

  async nextGeneration(generationKey: string): Promise<number> {
    return this.client.incr(this.prefix + generationKey);
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.client.publish(this.channel, JSON.stringify(message));
  }

  onMessage(listener: (m: InvalidationMessage) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.client.disconnect();
    this.sub.disconnect();
  }
}
