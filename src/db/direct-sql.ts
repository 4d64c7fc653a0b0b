import { createHash } from 'node:crypto';
import type { Connection } from '@mikro-orm/core';

/**
 * Raw statements without the ORM's and knex's per-query machinery (docs/performance.md).
 *
 * `connection.execute(text, bindings)` formats the statement (the values inlined, as MikroORM
 * always does), then builds a knex raw query, a runner, a query object and three events, logs,
 * and only then writes to the socket: about 0.3–0.8 ms of CPU per statement on a loaded 2-core
 * machine, as much as the `pg` driver's own work. Here the very same text goes to the very same
 * pooled `pg` connection (or the transaction's), so PostgreSQL sees exactly what it saw before:
 *
 * - the text is MikroORM's `formatQuery` of the statement (values inlined), sent with the simple
 *   protocol, as `knex.raw(formatted)` sends it;
 * - the knex client still emits `query` (per-request statement counts, tests that watch the
 *   statements) with the same `sql`;
 * - a failed statement's message is prefixed with its text, as knex does;
 * - connections come from and go back to knex's pool (its acquire timeout, its disposal of
 *   connections that timed out: src/db/pg-settings.ts).
 */

interface PgResult {
  rows: Record<string, unknown>[];
}

interface PgConnection {
  query(text: string | { name: string; text: string; values: unknown[] }): Promise<PgResult | PgResult[]>;
  __knexUid?: string;
  __knexTxId?: string;
}

interface KnexClientLike {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(conn: PgConnection): Promise<unknown>;
  emit(event: 'query', data: object): boolean;
}

/** A knex instance or transaction: what MikroORM's `getKnex()` and `getTransactionContext()` return. */
interface KnexLike {
  client: KnexClientLike;
  isCompleted?: () => boolean;
}

/** The knex instance behind a MikroORM connection. */
export const knexOf = (conn: Connection): KnexLike => (conn as unknown as { getKnex(): KnexLike }).getKnex();

/**
 * Runs `text` with `bindings` (knex `?` style) on `knex` (a knex instance, or the transaction
 * `trx` when given) and returns its rows, exactly as `conn.execute(text, bindings, 'all', trx)`.
 */
export async function executeDirect<T>(
  conn: Connection,
  text: string,
  bindings: unknown[],
  trx?: unknown,
): Promise<T[]> {
  // Every `?` is replaced by its value here. The text is sent as it is: knex's `positionBindings`
  // would turn a `?` inside a value (a URL's query string) into `$1` and corrupt what is stored.
  const sql = conn.getPlatform().formatQuery(text, bindings as any[]);
  return send<T>(conn, sql, sql, [], trx);
}

const preparedNames = new Map<string, string>();
const unprepared = new WeakSet<Connection>();

/** This ORM connection sends no prepared statements (DB_PREPARED_STATEMENTS=false). */
export function withoutPreparedStatements(conn: Connection): void {
  unprepared.add(conn);
}

/** Whether executePrepared may be used on `conn`. */
export const prepares = (conn: Connection): boolean => !unprepared.has(conn);

/**
 * Runs `text` (`$1`-style) with `values` bound, as a named prepared statement: each pooled
 * connection parses and plans it once, later runs reuse the plan (PostgreSQL's plan cache: custom
 * plans for the first five runs, then the generic plan when it costs no more). For the few hot
 * statements whose planning is a large part of their cost (docs/performance.md); the text must
 * type every parameter (casts), since bound values arrive untyped.
 */
export async function executePrepared<T>(
  conn: Connection,
  text: string,
  values: unknown[],
  trx?: unknown,
): Promise<T[]> {
  let name = preparedNames.get(text);
  if (!name) {
    name = `p_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return send<T>(conn, { name, text, values }, text, values, trx);
}

async function send<T>(
  conn: Connection,
  query: string | { name: string; text: string; values: unknown[] },
  sql: string,
  bindings: unknown[],
  trx?: unknown,
): Promise<T[]> {
  const knex = (trx as KnexLike | undefined) ?? knexOf(conn);
  const client = knex.client;
  if (trx && knex.isCompleted?.()) throw new Error('Transaction query already complete');
  const pg = await client.acquireConnection();
  try {
    // As knex reports a statement: its text, and its values when they travel apart from it.
    client.emit('query', { __knexUid: pg.__knexUid, __knexTxId: pg.__knexTxId, sql, bindings });
    let res: PgResult | PgResult[];
    try {
      res = await pg.query(query);
    } catch (err) {
      if (err instanceof Error) err.message = `${sql} - ${err.message}`;
      throw err;
    }
    // Several statements in one text answer one result each (MikroORM's transformRawResult).
    return (Array.isArray(res) ? res.map((r) => r.rows) : res.rows) as T[];
  } finally {
    await client.releaseConnection(pg);
  }
}
