import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { unavailableReason } from '../db/pg-errors';

/**
 * GET /readyz: may this process take traffic? A load balancer asks every few seconds and moves
 * traffic away on 503, so the answer must be quick and honest (issue 9: it used to hang for a
 * whole database freeze and then say ready, and stayed 200 on a read-only database).
 *
 * Not ready when: more requests wait for a pooled connection than `maxPoolWaiting` (saturated:
 * sending more only makes them wait longer); the database does not answer within `timeoutMs`
 * (frozen, unreachable); it answers with an error; it is a standby in recovery, or read-only
 * (`default_transaction_read_only`, as when a primary is fenced). /healthz stays liveness only.
 */

export interface ReadinessSettings {
  timeoutMs: number;
  maxPoolWaiting: number;
}

export interface PoolStats {
  size: number;
  used: number;
  free: number;
  /** Requests waiting for a connection. */
  waiting: number;
  /** Connections being opened. */
  opening: number;
}

export interface Readiness {
  ready: boolean;
  status: 'ready' | 'unavailable';
  /** Why not, in words (absent when ready). */
  reason?: string;
  /** pool-saturated | timeout | unreachable | recovery | read-only */
  check?: string;
  pool: PoolStats;
  /** How long the check took. */
  ms: number;
}

interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

/** The primary pool's occupancy (knex's tarn pool). */
export function poolStats(orm: MikroORM): PoolStats {
  const pool = (
    orm.em.getConnection('write') as unknown as { getKnex(): { client: { pool?: TarnPool } } }
  ).getKnex().client.pool;
  if (!pool) return { size: 0, used: 0, free: 0, waiting: 0, opening: 0 };
  return {
    size: pool.max,
    used: pool.numUsed(),
    free: pool.numFree(),
    waiting: pool.numPendingAcquires(),
    opening: pool.numPendingCreates(),
  };
}

const TIMED_OUT = Symbol('timed out');

async function probe(orm: MikroORM, settings: ReadinessSettings): Promise<Omit<Readiness, 'ms' | 'pool'>> {
  const pool = poolStats(orm);
  if (pool.waiting > settings.maxPoolWaiting) {
    return {
      ready: false,
      status: 'unavailable',
      check: 'pool-saturated',
      reason: `${pool.waiting} requests wait for one of ${pool.size} database connections (limit ${settings.maxPoolWaiting})`,
    };
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>(
    (r) => (timer = setTimeout(() => r(TIMED_OUT), settings.timeoutMs)),
  );
  const query = orm.em
    .getConnection('write')
    .execute<{ recovery: boolean; read_only: string }[]>(
      `select pg_is_in_recovery() as recovery, current_setting('transaction_read_only') as read_only`,
    );
  query.catch(() => undefined); // it may fail after the deadline answered
  try {
    const r = await Promise.race([query, deadline]);
    if (r === TIMED_OUT) {
      return {
        ready: false,
        status: 'unavailable',
        check: 'timeout',
        reason: `the database did not answer within ${settings.timeoutMs} ms`,
      };
    }
    const [row] = r;
    if (row.recovery)
      return {
        ready: false,
        status: 'unavailable',
        check: 'recovery',
        reason: 'the database is a standby in recovery',
      };
    if (row.read_only === 'on')
      return { ready: false, status: 'unavailable', check: 'read-only', reason: 'the database is read-only' };
    return { ready: true, status: 'ready' };
  } catch (err) {
    const why = unavailableReason(err);
    return {
      ready: false,
      status: 'unavailable',
      check: 'unreachable',
      reason: `the database is unreachable${why ? ` (${why})` : ''}: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks readiness. Concurrent callers share one check in flight, so probes arriving during an
 * outage do not each take a connection.
 */
export function readinessChecker(orm: MikroORM, settings: ReadinessSettings): () => Promise<Readiness> {
  let inFlight: Promise<Readiness> | undefined;
  return () => {
    inFlight ??= (async () => {
      const started = Date.now();
      try {
        const r = await probe(orm, settings);
        return { ...r, pool: poolStats(orm), ms: Date.now() - started };
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}

/** The GET /readyz handler: 200 or 503 with the Readiness as JSON. */
export function readinessRoute(
  orm: MikroORM,
  settings: ReadinessSettings,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const check = readinessChecker(orm, settings);
  return async (_req, res) => {
    const r = await check();
    res.writeHead(r.ready ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(JSON.stringify(r));
  };
}
