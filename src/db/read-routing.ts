import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Connection, MikroORM } from '@mikro-orm/core';
import type { Logger } from 'pino';
import type { Principal } from '../shared/auth';
import { executeDirect } from './direct-sql';
import { sqlStateOf, unavailableReason } from './pg-errors';
import {
  lagMs,
  lsnOf,
  PRIMARY_LSN_SQL,
  REPLAY_LSN_SQL,
  type ReplicaNode,
  type WalSample,
} from './replica-probe';
import { MemoryWriteLsnStore, RedisWriteLsnStore, type WriteLsnStore } from './write-lsn-store';

/**
 * Which reads may go to a replica: this list, and nothing else (MikroORM's implicit replica reads
 * are off: `preferReadReplicas: false` in orm.ts). Everything not named here — start-up,
 * migrations, anything in a transaction, every ORM find, every write path — reads the primary.
 * Each entry is a read whose staleness is bounded by REPLICA_MAX_LAG_MS and, for the client's own
 * writes, removed by read-your-writes.
 */
export type ReplicaRead =
  /** Search pages, counts and facets (`products`): cached for SEARCH_CACHE_TTL_MS anyway. */
  | 'catalog.search'
  /** Order lists (`orders`): a buyer who just checked out sees the new order (read-your-writes). */
  | 'orders.list';

export interface ReadRoutingOptions {
  /** A replica staler than this is not read (REPLICA_MAX_LAG_MS). */
  maxLagMs: number;
  /** How long a read of a client that just wrote waits for a replica to catch up before reading the primary (REPLICA_WAIT_MS). */
  waitMs: number;
  /** Interval of the background probe of every replica (REPLICA_PROBE_MS). */
  probeMs: number;
  /** Clients remembered per process without Redis (REPLICA_RYW_MAX_CLIENTS). */
  memoryClients: number;
}

interface ReadTarget {
  router: ReadRouter;
  /** null: the primary. */
  replica: ReplicaNode | null;
  /** The caller wrote within the write window: nothing read before its write may be served to it. */
  ownWrites: boolean;
}

const targetStorage = new AsyncLocalStorage<ReadTarget>();

/**
 * True inside a `forRead` of a client that wrote recently. Caches shared between clients must then
 * be bypassed: another client may have filled them from a replica that lacked this client's write.
 */
export function readingOwnWrites(): boolean {
  return targetStorage.getStore()?.ownWrites ?? false;
}

/** The read-your-writes key of a caller: a user, or a partner's API key (they share no user id). */
export function readClientOf(principal: Principal | null): string | null {
  if (!principal) return null;
  return principal.partner ? `partner:${principal.partner.id}` : `user:${principal.userId}`;
}

/**
 * A replica's own problem, not the statement's: it is down, restarting, has not replayed the
 * database or the schema yet (a new deployment), or cancelled the read for a replay conflict. The
 * read then runs on the primary instead.
 */
function isReplicaFault(e: unknown): boolean {
  const state = sqlStateOf(e);
  // 3D000 no such database, 42P01 no such table, 42703 no such column: WAL not replayed yet.
  if (state === '3D000' || state === '42P01' || state === '42703') return true;
  return unavailableReason(e) !== null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Sends the reads named in `ReplicaRead` to replicas, round-robin among the replicas that are up
 * and within REPLICA_MAX_LAG_MS, and everything else to the primary.
 *
 * Read-your-writes: after a client's mutation the primary's WAL position is recorded for it (in
 * Redis when configured, so every process knows; else in this process). Until that record expires
 * the client's reads go only to a replica that has replayed past it, waiting up to REPLICA_WAIT_MS
 * for one, else to the primary.
 *
 * A background probe (every REPLICA_PROBE_MS) samples the primary's WAL position and each
 * replica's replay position: per request the routing costs no query (one Redis GET for a signed-in
 * client when Redis is configured). A replica that fails a read is marked down at once and the read
 * runs on the primary; the probe brings it back when it answers again.
 */
export class ReadRouter {
  private primary: Connection | null = null;
  private replicas: ReplicaNode[] = [];
  private store: WriteLsnStore | null = null;
  private samples: WalSample[] = [];
  private sampling = false;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  /** Where the routed reads went (tests, benchmarks and docs/replicas.md's figures). */
  readonly counts = { replica: 0, primary: 0, waited: 0, failedOver: 0 };

  constructor(
    readonly options: ReadRoutingOptions,
    private readonly log: Logger,
  ) {}

  /** A write stays relevant while a replica may still miss it: the lag allowed, plus the probe's blind spot. */
  get writeTtlMs(): number {
    return this.options.maxLagMs + 2 * this.options.probeMs + 1000;
  }

  /** True when there is a replica to route to. */
  get enabled(): boolean {
    return this.replicas.length > 0;
  }

  /**
   * Takes the ORM's connections (its replicas come from DATABASE_REPLICA_URLS) and starts probing.
   * Until a replica has answered a probe it is not read.
   */
  async start(orm: MikroORM, redisUrl?: string, store?: WriteLsnStore): Promise<void> {
    const driver = orm.em.getDriver() as unknown as {
      getConnection(t: 'write'): Connection;
      replicas: Connection[];
    };
    this.primary = driver.getConnection('write');
    this.replicas = driver.replicas.map((conn, i) => ({
      name: `replica ${i}`,
      conn,
      up: false,
      replayLsn: null,
      lagMs: Infinity,
      probing: false,
    }));
    if (!this.enabled) return;
    const ttlMs = this.writeTtlMs;
    if (store) this.store = store;
    else if (redisUrl) {
      // Keyed by the database: deployments (and test databases) sharing a Redis never mix clients.
      const db = new URL(orm.config.get('clientUrl') ?? 'postgres://local/');
      const prefix = `commerce:ryw:${createHash('sha256').update(`${db.host}${db.pathname}`).digest('hex').slice(0, 12)}:`;
      const redis = new RedisWriteLsnStore(redisUrl, ttlMs, this.log, prefix);
      await redis.start();
      this.store = redis;
    } else this.store = new MemoryWriteLsnStore(ttlMs, this.options.memoryClients);
    // The first round is awaited (briefly): requests right after start-up can use the replicas.
    await Promise.race([this.probe(), sleep(Math.max(1000, 2 * this.options.probeMs))]);
    this.timer = setInterval(() => void this.probe(), this.options.probeMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.store?.close();
    this.store = null;
  }

  /** What the router knows of each replica (readiness, metrics, tests). */
  replicaStates(): { name: string; up: boolean; lagMs: number }[] {
    return this.replicas.map((r) => ({ name: r.name, up: r.up, lagMs: r.lagMs }));
  }

  /**
   * Runs `fn` with its raw read-only statements (`sqlAll(..., readOnly = true)`) on the replica
   * chosen for `read` and this caller, or on the primary.
   */
  async forRead<T>(read: ReplicaRead, principal: Principal | null, fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return fn();
    const { replica, ownWrites } = await this.choose(readClientOf(principal));
    if (replica) this.counts.replica++;
    else this.counts.primary++;
    return targetStorage.run({ router: this, replica, ownWrites }, fn);
  }

  /** After a client's write committed: its reads must not go to a replica that has not replayed it. */
  async recordWrite(principal: Principal | null): Promise<void> {
    const client = readClientOf(principal);
    if (!this.enabled || !client || !this.primary || !this.store) return;
    try {
      const lsn = await lsnOf(this.primary, PRIMARY_LSN_SQL);
      if (lsn !== null) await this.store.record(client, lsn);
    } catch (err) {
      this.log.warn({ err, client }, 'read-your-writes: the write position was not recorded');
    }
  }

  /** The replica for a read of `client` (null: anonymous), or null for the primary; and whether the client wrote recently. */
  private async choose(client: string | null): Promise<{ replica: ReplicaNode | null; ownWrites: boolean }> {
    let written: bigint | null = null;
    if (client) {
      try {
        written = await this.store!.get(client);
      } catch {
        // The client's writes are unknown (Redis away): only the primary surely has them.
        return { replica: null, ownWrites: true };
      }
    }
    const ownWrites = written !== null;
    const usable = this.replicas.filter((r) => r.up && r.lagMs <= this.options.maxLagMs);
    if (!usable.length) return { replica: null, ownWrites };
    if (written === null) return { replica: this.roundRobin(usable), ownWrites };
    const caughtUp = usable.filter((r) => r.replayLsn !== null && r.replayLsn >= written);
    if (caughtUp.length) return { replica: this.roundRobin(caughtUp), ownWrites };
    // Waiting only makes sense on a replica that usually keeps up within the wait.
    const candidates = usable.filter((r) => r.lagMs <= this.options.waitMs);
    if (!candidates.length || this.options.waitMs <= 0) return { replica: null, ownWrites };
    const replica = this.roundRobin(candidates);
    this.counts.waited++;
    return { replica: (await this.waitFor(replica, written)) ? replica : null, ownWrites };
  }

  private roundRobin(nodes: ReplicaNode[]): ReplicaNode {
    this.next = (this.next + 1) % 1_000_000;
    return nodes[this.next % nodes.length];
  }

  /** Polls the replica's replay position until it passes `lsn` or REPLICA_WAIT_MS is over. */
  private async waitFor(replica: ReplicaNode, lsn: bigint): Promise<boolean> {
    const deadline = Date.now() + this.options.waitMs;
    for (;;) {
      try {
        const replayed = await lsnOf(replica.conn, REPLAY_LSN_SQL);
        if (replayed !== null && (replica.replayLsn === null || replayed > replica.replayLsn))
          replica.replayLsn = replayed;
        if (replayed !== null && replayed >= lsn) return true;
      } catch (e) {
        this.markDown(replica, e);
        return false;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(5, left));
    }
  }

  /** A read on the replica failed for the replica's sake: no more reads there until a probe answers. */
  markDown(replica: ReplicaNode, err: unknown): void {
    if (replica.up) this.log.warn({ err, replica: replica.name }, 'replica unusable; reading the primary');
    replica.up = false;
  }

  /** One round: the primary's position, then every replica's (a slow one holds up only itself). */
  private async probe(): Promise<void> {
    if (!this.sampling && this.primary) {
      this.sampling = true;
      try {
        // Stamped before asking: the position read is at least the one of that moment, so a
        // slow answer can only make replicas look staler, never fresher.
        const at = Date.now();
        const lsn = await lsnOf(this.primary, 'select pg_current_wal_lsn()::text as lsn');
        if (lsn !== null) this.samples.push({ at, lsn });
      } catch {
        // The primary is unreachable: its reads fail on their own; replica lag is measured on the last samples.
      } finally {
        this.sampling = false;
      }
      // Samples older than the lag allowed (and a margin) are not needed: a replica behind them is too stale anyway.
      const horizon = Date.now() - (this.options.maxLagMs + 2 * this.options.probeMs);
      while (this.samples.length > 1 && this.samples[0].at < horizon) this.samples.shift();
    }
    await Promise.all(this.replicas.map((r) => this.probeReplica(r)));
  }

  private async probeReplica(r: ReplicaNode): Promise<void> {
    if (r.probing) return;
    r.probing = true;
    try {
      const replayed = await lsnOf(r.conn, REPLAY_LSN_SQL);
      if (replayed === null) throw new Error('the replica has replayed nothing yet');
      r.replayLsn = replayed;
      r.lagMs = lagMs(replayed, this.samples, Date.now());
      if (!r.up) this.log.info({ replica: r.name, lagMs: r.lagMs }, 'replica answers');
      r.up = true;
    } catch (err) {
      this.markDown(r, err);
    } finally {
      r.probing = false;
    }
  }
}

/**
 * Runs a read-only raw statement where the enclosing `forRead` sent it: on its replica (falling
 * back to the primary when the replica fails for its own reasons), or on `primary` outside any
 * `forRead`.
 */
export async function routedRead<T>(primary: Connection, text: string, bindings: unknown[]): Promise<T[]> {
  const target = targetStorage.getStore();
  const replica = target?.replica;
  if (replica?.up) {
    try {
      return await executeDirect<T>(replica.conn, text, bindings);
    } catch (e) {
      if (!isReplicaFault(e)) throw e;
      target!.router.markDown(replica, e);
      target!.router.counts.failedOver++;
    }
  }
  return await executeDirect<T>(primary, text, bindings);
}
