import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { Logger } from 'pino';
import { connectRedis, type RedisClient } from '../shared/redis';

/**
 * Apollo's KeyValueCache over Redis, so an APQ document registered through one process is found by
 * every other. Redis failing is a cache miss (the client sends the full document again), never an
 * error: Redis speeds things up, it is not a source of truth.
 */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly redis: RedisClient,
    private readonly log: Logger,
    private readonly prefix = 'commerce:',
  ) {}

  static connect(url: string, log: Logger): RedisKeyValueCache {
    // A command waits for at most one reconnection attempt, then fails (a miss).
    // One key per command: a cluster needs nothing more.
    const redis = connectRedis(url, { purpose: 'APQ cache', log, maxRetriesPerRequest: 1 });
    return new RedisKeyValueCache(redis, log);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.prefix + key)) ?? undefined;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'APQ cache: read failed');
      return undefined;
    }
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    try {
      if (options?.ttl) await this.redis.set(this.prefix + key, value, 'EX', Math.ceil(options.ttl));
      else await this.redis.set(this.prefix + key, value);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'APQ cache: write failed');
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.redis.del(this.prefix + key)) > 0;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
