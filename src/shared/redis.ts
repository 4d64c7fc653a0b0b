import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Every Redis connection of the server is made here (docs/redis.md), so that `REDIS_URL` may name
 * one Redis or a Redis Cluster and every use (event fan-out, caches, rate limits, APQ, flash-sale
 * scripts) follows:
 *
 *   redis://[user:password@]host:port[/db]          one Redis (rediss:// for TLS)
 *   redis-cluster://[user:password@]h1:p1,h2:p2,... a cluster, given by some of its masters
 *                                                    (rediss-cluster:// for TLS)
 *
 * In a cluster every command goes to the node that owns its key's slot: a command or script that
 * names several keys must keep them in one slot (a shared hash tag, `{...}`), and the helpers below
 * (`mgetKeys`, `delKeys`, `setKeysPx`, `publish`) do the multi-key and pub/sub work either way.
 */

export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: RedisNode[]; username?: string; password?: string; tls: boolean };

const CLUSTER_SCHEMES: Record<string, boolean> = { 'redis-cluster:': false, 'rediss-cluster:': true };

/** Parses REDIS_URL; throws an Error saying what is wrong (config.ts turns it into a ConfigError). */
export function parseRedisUrl(text: string): RedisTarget {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'redis:' || scheme === 'rediss:') {
    try {
      new URL(text);
    } catch {
      throw new Error('is not a valid URL');
    }
    return { mode: 'standalone', url: text };
  }
  if (!scheme || !(scheme in CLUSTER_SCHEMES))
    throw new Error(
      `must use redis:, rediss:, redis-cluster: or rediss-cluster:, got ${scheme ?? 'no scheme'}`,
    );
  let rest = text.slice(scheme.length + 2).replace(/\/0?$/, '');
  if (rest.includes('/') || rest.includes('?'))
    throw new Error('a cluster has only database 0 and takes no path or options: list host:port pairs');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(':');
    username = decodeURIComponent(colon >= 0 ? auth.slice(0, colon) : auth) || undefined;
    password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) : undefined;
  }
  const nodes = rest.split(',').map((part) => {
    const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::(\d+))?$/i.exec(part.trim());
    const port = Number(m?.[2] ?? 6379);
    if (!m || port < 1 || port > 65535)
      throw new Error(`"${part}" is not host:port (a cluster is host1:port1,host2:port2,...)`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
  return { mode: 'cluster', nodes, username, password, tls: CLUSTER_SCHEMES[scheme] };
}

export interface ConnectOptions {
  /** Named in logs ("cache", "rate limits", ...). */
  purpose: string;
  log?: Logger;
  /** How a command behaves while Redis is away; see ioredis. Defaults: ioredis's. */
  maxRetriesPerRequest?: number | null;
  enableOfflineQueue?: boolean;
  commandTimeout?: number;
  connectTimeout?: number;
  /** Standalone: delay before the n-th reconnection. Cluster: before reconnecting the cluster. */
  retryStrategy?: (attempt: number) => number | null;
  /** A connection that only subscribes (SSUBSCRIBE in a cluster needs ioredis's sharded subscribers). */
  subscriber?: boolean;
  /** The level connection errors are logged at (warn unless a use expects Redis to come and go). */
  errorLevel?: 'warn' | 'debug';
}

/** One connection (standalone) or one cluster client (a connection per node), from REDIS_URL. */
export function connectRedis(target: RedisTarget | string, opts: ConnectOptions): RedisClient {
  const t = typeof target === 'string' ? parseRedisUrl(target) : target;
  const node: RedisOptions = {};
  if (opts.maxRetriesPerRequest !== undefined) node.maxRetriesPerRequest = opts.maxRetriesPerRequest;
  if (opts.enableOfflineQueue !== undefined) node.enableOfflineQueue = opts.enableOfflineQueue;
  if (opts.commandTimeout !== undefined) node.commandTimeout = opts.commandTimeout;
  if (opts.connectTimeout !== undefined) node.connectTimeout = opts.connectTimeout;
  let client: RedisClient;
  if (t.mode === 'standalone') {
    if (opts.retryStrategy) node.retryStrategy = opts.retryStrategy;
    client = new Redis(t.url, node);
  } else {
    // The cluster keeps its own offline queue; node connections always queue until connected.
    delete node.enableOfflineQueue;
    const cluster: ClusterOptions = {
      redisOptions: {
        ...node,
        username: t.username,
        password: t.password,
        tls: t.tls ? {} : undefined,
      },
      // Single commands to one node issued in the same tick share a round trip.
      enableAutoPipelining: !opts.subscriber,
      shardedSubscribers: opts.subscriber ?? false,
    };
    // Commands queued while the cluster connects are failed by ioredis when no node answers
    // (tested: test/integration/redis-cluster-faults.test.ts), so fail-fast uses keep the queue.
    if (opts.enableOfflineQueue !== undefined) cluster.enableOfflineQueue = opts.enableOfflineQueue;
    if (opts.retryStrategy) cluster.clusterRetryStrategy = opts.retryStrategy;
    client = new Cluster(t.nodes, cluster);
  }
  const level = opts.errorLevel ?? 'warn';
  client.on('error', (err: Error) => opts.log?.[level]({ err: err.message }, `${opts.purpose}: Redis error`));
  return client;
}

export const isCluster = (c: RedisClient): c is Cluster => (c as Cluster).isCluster === true;

/** Resolves once the client is ready, or after `ms` (false: not ready, the caller goes on without). */
export function whenReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    client.once('ready', onReady);
  });
}

/*
 * Multi-key commands. One Redis takes them as one command; a cluster refuses keys of different
 * slots in one command (CROSSSLOT), and a pipeline whose keys live on different nodes. There the
 * keys are grouped by the node that owns their slot, and each node gets one pipeline of
 * single-key commands, all nodes at once: one round trip per node, as MGET had one in all.
 */

/** Indexes of `keys` per node (by the client's slot map; MOVED while it is stale is retried by ioredis). */
function byNode(cluster: Cluster, keys: string[]): number[][] {
  const groups = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const node = cluster.slots[calculateSlot(k)]?.[0] ?? `unknown:${i}`;
    const g = groups.get(node);
    if (g) g.push(i);
    else groups.set(node, [i]);
  });
  return [...groups.values()];
}

/** Runs one command per key, a pipeline per node; results in the order of `keys`. */
async function perKey<T>(
  cluster: Cluster,
  keys: string[],
  add: (p: ReturnType<Cluster['pipeline']>, i: number) => void,
): Promise<T[]> {
  const out = new Array<T>(keys.length);
  await Promise.all(
    byNode(cluster, keys).map(async (group) => {
      const p = cluster.pipeline();
      for (const i of group) add(p, i);
      const results = (await p.exec()) ?? [];
      results.forEach(([err, value], j) => {
        if (err) throw err;
        out[group[j]] = value as T;
      });
    }),
  );
  return out;
}

export async function mgetKeys(client: RedisClient, keys: string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (!isCluster(client)) return client.mget(keys);
  return perKey<string | null>(client, keys, (p, i) => p.get(keys[i]));
}

export async function delKeys(client: RedisClient, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(client)) return client.del(...keys);
  const counts = await perKey<number>(client, keys, (p, i) => p.del(keys[i]));
  return counts.reduce((a, b) => a + b, 0);
}

/** SET key value PX ttl for each item (independent entries: no atomicity is promised across them). */
export async function setKeysPx(
  client: RedisClient,
  items: { key: string; value: string; ttlMs: number }[],
): Promise<void> {
  if (items.length === 0) return;
  const ttl = (i: number) => Math.max(1, Math.ceil(items[i].ttlMs));
  if (isCluster(client)) {
    const keys = items.map((i) => i.key);
    await perKey(client, keys, (p, i) => p.set(keys[i], items[i].value, 'PX', ttl(i)));
    return;
  }
  const p = client.pipeline();
  items.forEach((item, i) => p.set(item.key, item.value, 'PX', ttl(i)));
  const failed = ((await p.exec()) ?? []).find(([err]) => err);
  if (failed) throw failed[0];
}

/** PUBLISH on one Redis; SPUBLISH (sharded pub/sub, Redis 7) on a cluster, to the channel's shard. */
export function publish(client: RedisClient, channel: string, message: string): Promise<number> {
  return isCluster(client)
    ? (client.spublish(channel, message) as Promise<number>)
    : client.publish(channel, message);
}

/** A message a channel sends itself to learn that its subscription is live; never delivered. */
const PROBE = 'commerce-probe:';

/**
 * One subscription to one channel, on a connection of its own: SUBSCRIBE on one Redis, SSUBSCRIBE
 * on a cluster (the channel lives on the shard that owns its slot, and only that shard carries its
 * messages, instead of every node of the cluster).
 *
 * Pub/sub keeps nothing for an absent subscriber. When the subscription comes back after its
 * connection dropped (or the channel's slot moved), `onGap` is called, but only once a probe
 * published by this channel has come back through it: a catch-up read made then cannot miss a
 * message published before the subscription was live again.
 */
export class RedisChannel {
  private readonly sub: RedisClient;
  private subscribed = false;
  private closed = false;
  private probe?: { id: string; timer: NodeJS.Timeout };

  constructor(
    target: RedisTarget | string,
    readonly channel: string,
    private readonly publisher: RedisClient,
    private readonly handlers: { onMessage(text: string): void; onGap?(): void },
    conn: Pick<ConnectOptions, 'purpose' | 'log' | 'errorLevel'>,
  ) {
    this.sub = connectRedis(target, {
      ...conn,
      subscriber: true,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
    });
    const onMessage = (ch: string, text: string) => {
      if (ch !== this.channel) return;
      if (text.startsWith(PROBE)) {
        if (this.probe && text === PROBE + this.probe.id) {
          clearInterval(this.probe.timer);
          this.probe = undefined;
          this.handlers.onGap?.();
        }
        return;
      }
      this.handlers.onMessage(text);
    };
    this.sub.on(isCluster(this.sub) ? 'smessage' : 'message', onMessage);
    // Standalone: ioredis subscribes again before 'ready'. Cluster: the sharded subscribers are
    // rebuilt after a topology change or a lost node connection, then 'subscribersReady'.
    this.sub.on(isCluster(this.sub) ? 'subscribersReady' : 'ready', () => {
      if (this.subscribed && !this.closed) this.resubscribed();
    });
  }

  async start(): Promise<void> {
    if (isCluster(this.sub)) await this.sub.ssubscribe(this.channel);
    else await this.sub.subscribe(this.channel);
    this.subscribed = true;
  }

  publish(text: string): Promise<number> {
    return publish(this.publisher, this.channel, text);
  }

  /** Probes every 250 ms until one comes back (the subscription is live), then reports the gap. */
  private resubscribed(): void {
    if (!this.handlers.onGap) return;
    if (this.probe) clearInterval(this.probe.timer);
    const id = randomUUID();
    const send = () => void this.publish(PROBE + id).catch(() => undefined);
    this.probe = { id, timer: setInterval(send, 250) };
    this.probe.timer.unref();
    send();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearInterval(this.probe.timer);
    this.sub.disconnect();
  }
}
