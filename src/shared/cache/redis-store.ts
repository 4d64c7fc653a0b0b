import type { Logger } from 'pino';
import {
  connectRedis,
  delKeys,
  mgetKeys,
  RedisChannel,
  setKeysPx,
  whenReady,
  type RedisClient,
} from '../redis';
import type { CacheStore, InvalidationMessage, StoredEntry } from './store';

/**
 * Entries in Redis, shared by every process: an invalidation (DEL, or INCR of a namespace's
 * generation) is seen by the next read of any process. Invalidations are also published on a
 * channel so that other processes drop loads they have in flight, which read the database before
 * the change and must not be stored after it.
 *
 * On a Redis Cluster the keys of one read spread over many slots: each is read, written and
 * deleted by its own command (src/shared/redis.ts), and the channel is a sharded one.
 *
 * Redis only speeds reads up: commands time out quickly and never queue while Redis is away, so a
 * lost Redis turns the cache into misses (reads from PostgreSQL), never into errors or waits.
 */
export class RedisStore implements CacheStore {
  readonly shared = true;
  private readonly client: RedisClient;
  private readonly channel: RedisChannel;
  private readonly listeners: ((m: InvalidationMessage) => void)[] = [];

  constructor(
    url: string,
    /** Prefix of every key and of the channel: one database's cache, whoever else uses the Redis. */
    private readonly prefix: string,
    log: Logger,
    commandTimeoutMs = 1000,
  ) {
    this.client = connectRedis(url, {
      purpose: 'cache',
      log,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: commandTimeoutMs,
    });
    // The subscriber waits for its connection: it has nothing to answer in a hurry.
    this.channel = new RedisChannel(
      url,
      `${prefix}invalidate`,
      this.client,
      {
        onMessage: (text) => {
          let m: InvalidationMessage;
          try {
            m = JSON.parse(text);
          } catch {
            return;
          }
          for (const l of this.listeners) l(m);
        },
      },
      { purpose: 'cache', log },
    );
  }

  /** Subscribes, and waits (a few seconds at most) for the command connection. */
  async start(): Promise<void> {
    await this.channel.start();
    await whenReady(this.client, 5000);
  }

  async read(keys: string[], generationKey?: string) {
    const all = keys.map((k) => this.prefix + k);
    if (generationKey) all.push(this.prefix + generationKey);
    const raw = await mgetKeys(this.client, all);
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
    await setKeysPx(
      this.client,
      items.map(({ key, entry }) => ({
        key: this.prefix + key,
        value: JSON.stringify(entry),
        ttlMs: entry.s - now,
      })),
    );
  }

  async remove(keys: string[]): Promise<void> {
    await delKeys(
      this.client,
      keys.map((k) => this.prefix + k),
    );
  }

  async nextGeneration(generationKey: string): Promise<number> {
    return this.client.incr(this.prefix + generationKey);
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.channel.publish(JSON.stringify(message));
  }

  onMessage(listener: (m: InvalidationMessage) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.client.disconnect();
    await this.channel.close();
  }
}
