import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Where a client's last write is remembered: the primary's WAL position right after the client's
 * mutation committed, per client (user, partner key). A read of that client may go to a replica
 * only once the replica has replayed past it.
 *
 * An entry lives `ttlMs`: after that long every replica the router still uses (lag within
 * REPLICA_MAX_LAG_MS) has replayed the write anyway, so the entry would change nothing.
 */
export interface WriteLsnStore {
  /** The client's last write position, or null (no write within ttlMs). Throws when the store is unreachable. */
  get(client: string): Promise<bigint | null>;
  /** Keeps the larger of the stored and the given position, for ttlMs from now. */
  record(client: string, lsn: bigint): Promise<void>;
  close(): Promise<void>;
}

/** One process: a bounded map (oldest entries go first), for a single server or no Redis. */
export class MemoryWriteLsnStore implements WriteLsnStore {
  private readonly entries = new Map<string, { lsn: bigint; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(client: string): Promise<bigint | null> {
    const e = this.entries.get(client);
    if (!e) return null;
    if (e.expires <= this.now()) {
      this.entries.delete(client);
      return null;
    }
    return e.lsn;
  }

  async record(client: string, lsn: bigint): Promise<void> {
    const old = this.entries.get(client);
    const keep = old && old.expires > this.now() && old.lsn > lsn ? old.lsn : lsn;
    // Re-inserted at the end: the Map's order is the order of last writes, oldest first.
    this.entries.delete(client);
    this.entries.set(client, { lsn: keep, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/**
 * Keeps the larger position: two processes recording writes of one client in either order leave
 * the later one. Positions are stored as decimal numbers (exact in Lua's doubles below 2^53 bytes
 * of WAL, i.e. 8 PiB).
 */
const RECORD_MAX = `
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) > tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1`;

/** Shared by every server process through Redis: a client may write through one and read through another. */
export class RedisWriteLsnStore implements WriteLsnStore {
  private readonly client: Redis;

  constructor(
    url: string,
    private readonly ttlMs: number,
    log: Logger,
    private readonly prefix = 'ryw:',
    commandTimeoutMs = 500,
  ) {
    // Fails fast instead of queueing while Redis is away: the router then reads the primary.
    this.client = new Redis(url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: commandTimeoutMs,
    });
    this.client.on('error', (err) =>
      log.warn({ err: err.message }, 'read-your-writes redis connection error'),
    );
    this.client.defineCommand('recordMaxLsn', { numberOfKeys: 1, lua: RECORD_MAX });
  }

  /** Waits (a few seconds at most) for the connection. */
  async start(): Promise<void> {
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

  async get(client: string): Promise<bigint | null> {
    const v = await this.client.get(this.prefix + client);
    return v === null ? null : BigInt(v);
  }

  async record(client: string, lsn: bigint): Promise<void> {
    await (
      this.client as unknown as { recordMaxLsn(k: string, v: string, ttl: number): Promise<unknown> }
    ).recordMaxLsn(this.prefix + client, lsn.toString(), this.ttlMs);
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
