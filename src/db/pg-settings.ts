import type { ClientConfig } from 'pg';
import { dbTimeouts, type DbTimeouts } from '../config';

/**
 * The timeouts of every PostgreSQL client the server opens (docs/faults.md). Without them a frozen
 * or unreachable database held each request for as long as the outage lasted (issue 9).
 *
 * - statement_timeout, lock_timeout, idle_in_transaction_session_timeout are sent at connection
 *   start-up, so they hold for every statement of the session, including inside transactions;
 * - the client-side query timeout covers what the server cannot: a server that does not answer at
 *   all (frozen, or the network gone) never fires its own statement_timeout;
 * - the connect timeout and TCP keep-alive detect a dead peer instead of waiting on the socket.
 */

/** The defaults, for scripts and tests that have no Config. */
export const DEFAULT_DB_TIMEOUTS: DbTimeouts = dbTimeouts();

/** Migrations and admin scripts (seed): long statements allowed, lock waits unbounded, no client timeout. */
export function adminTimeouts(t: DbTimeouts): DbTimeouts {
  return {
    ...t,
    statementMs: t.migrationStatementMs,
    lockMs: 0,
    queryMs: t.migrationStatementMs === 0 ? 0 : t.migrationStatementMs + 1000,
    poolAcquireMs: Math.max(t.poolAcquireMs, 60_000),
  };
}

/** `pg` client (and pool) settings for `t`; 0 leaves a server setting to the database's own default. */
export function pgTimeoutSettings(t: DbTimeouts): ClientConfig {
  const ms = (v: number) => (v > 0 ? v : undefined);
  return {
    statement_timeout: ms(t.statementMs),
    lock_timeout: ms(t.lockMs),
    idle_in_transaction_session_timeout: ms(t.idleInTransactionMs),
    query_timeout: ms(t.queryMs),
    connectionTimeoutMillis: t.connectMs,
    keepAlive: t.keepAliveIdleMs > 0,
    keepAliveInitialDelayMillis: ms(t.keepAliveIdleMs),
  } as ClientConfig;
}

interface PooledClient {
  query: (...args: unknown[]) => unknown;
  __knex__disposed?: unknown;
  connection?: { stream?: { destroy(): void } };
}

const isReadTimeout = (err: unknown) => /Query read timeout/.test(String((err as Error)?.message));

/**
 * For knex's pool (`afterCreate`): a query that got no answer within the client-side timeout
 * leaves its connection busy with it (the `pg` driver only stops waiting). Such a connection is
 * closed and marked disposed, so the pool replaces it instead of handing out a connection that
 * would queue every later query behind the lost one; PostgreSQL rolls its transaction back when it
 * sees the socket closed.
 */
export function discardOnReadTimeout(conn: PooledClient): void {
  const query = conn.query.bind(conn);
  const discard = (err: unknown) => {
    if (!isReadTimeout(err) || conn.__knex__disposed) return;
    conn.__knex__disposed = err;
    conn.connection?.stream?.destroy();
  };
  conn.query = (...args: unknown[]) => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, res: unknown) => {
        if (err) discard(err);
        return (callback as (e: unknown, r: unknown) => unknown)(err, res);
      };
      return query(...args);
    }
    const result = query(...args) as Promise<unknown> | undefined;
    return result && typeof result.then === 'function'
      ? result.catch((err: unknown) => {
          discard(err);
          throw err;
        })
      : result;
  };
}

type Callback = (err: unknown, res: unknown) => unknown;
type Answer = { command: string; rowCount: number | null; rows: unknown[]; fields: unknown[] };

const emptyAnswer = (command: string): Answer => ({ command, rowCount: null, rows: [], fields: [] });
/** A text that is one BEGIN (knex: `BEGIN;`, `BEGIN TRANSACTION ISOLATION LEVEL …;`) and nothing else. */
const BEGIN = /^\s*BEGIN\b[^;]*;?\s*$/i;
const END = /^\s*(COMMIT|ROLLBACK)\b[^;]*;?\s*$/i;

/**
 * For knex's pool (`afterCreate`): a transaction's BEGIN travels with its first statement, in one
 * message and one round trip, instead of costing a round trip of its own (on a busy machine each
 * round trip is a socket write and a wake-up of the backend on both sides: a third of the server's
 * CPU on the money path, docs/performance.md). Only BEGIN is held back, never a statement: the
 * first statement after it is sent at once, with `BEGIN;` in front when it goes by the simple
 * protocol (no bound values), else right after a BEGIN sent on its own; a transaction that ends
 * before any statement sends nothing. PostgreSQL sees the same statements in the same order.
 */
export function beginWithFirstStatement(conn: PooledClient): void {
  const query = conn.query.bind(conn);
  let pending: string | null = null;
  conn.query = (...args: unknown[]) => {
    const [first] = args;
    const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as Callback) : null;
    const config = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : null;
    const text = typeof first === 'string' ? first : typeof config?.text === 'string' ? config.text : null;
    const values = config ? config.values : args.length > (callback ? 2 : 1) ? args[1] : undefined;
    const simple =
      text !== null &&
      !(Array.isArray(values) && values.length > 0) &&
      !config?.name &&
      typeof config?.submit !== 'function';
    const answer = (res: unknown) => {
      if (callback) return void callback(null, res);
      return Promise.resolve(res);
    };
    if (pending === null) {
      if (simple && BEGIN.test(text!)) {
        pending = text;
        return answer(emptyAnswer('BEGIN'));
      }
      return query(...args);
    }
    const begin = pending;
    pending = null;
    if (text !== null && END.test(text)) return answer(emptyAnswer(text.trim().split(/\s/)[0].toUpperCase()));
    if (!simple) {
      // The driver sends queries in order: BEGIN goes first, its (unlikely) failure shows in this one.
      void (query(begin) as Promise<unknown>).catch(() => undefined);
      return query(...args);
    }
    const merged = `${begin}\n${text}`;
    const mergedArgs = [...args];
    mergedArgs[0] = config ? { ...config, text: merged } : merged;
    // The answer of several statements is one result each: BEGIN's is dropped.
    const unwrap = (res: unknown) => {
      if (!Array.isArray(res)) return res;
      const rest = res.slice(1);
      return rest.length === 1 ? rest[0] : rest;
    };
    if (callback) {
      mergedArgs[mergedArgs.length - 1] = (err: unknown, res: unknown) =>
        callback(err, err ? res : unwrap(res));
      return query(...mergedArgs);
    }
    return (query(...mergedArgs) as Promise<unknown>).then(unwrap);
  };
}
