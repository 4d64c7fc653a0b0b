import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { RedisStore } from './redis-store';
import { SharedCache } from './shared-cache';
import { MemoryStore } from './store';

/**
 * The process's shared cache: Redis when REDIS_URL is set (every process shares entries and
 * invalidations), otherwise this process's memory, bounded to `maxEntries`. Keys are prefixed
 * with the database they mirror, so deployments (and test databases) sharing a Redis never read
 * each other's entries.
 */
export async function createSharedCache(opts: {
  redisUrl?: string;
  databaseUrl: string;
  maxEntries: number;
  log: Logger;
}): Promise<SharedCache> {
  if (!opts.redisUrl) return new SharedCache(new MemoryStore(opts.maxEntries), opts.log);
  const db = new URL(opts.databaseUrl);
  const prefix = `commerce:cache:${createHash('sha256').update(`${db.host}${db.pathname}`).digest('hex').slice(0, 12)}:`;
  const store = new RedisStore(opts.redisUrl, prefix, opts.log);
  await store.start();
  return new SharedCache(store, opts.log);
}
