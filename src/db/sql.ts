import type { EntityManager } from '@mikro-orm/postgresql';
import { executeDirect, executePrepared, prepares } from './direct-sql';
import { routedRead } from './read-routing';

/** A PostgreSQL array literal, so an array travels as one bound value (knex would expand it). */
export function pgArray(values: (string | number)[]): string {
  return `{${values.map((v) => `"${String(v).replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}

/** A parameter as it is bound: an array as one PostgreSQL array literal, anything else as it is. */
const bound = (v: unknown): unknown => (Array.isArray(v) ? pgArray(v) : v);

/**
 * Rewrites `$1`-style SQL to knex's `?` bindings in order of appearance, so one statement text
 * works both here and in the benchmark's bare `pg` baseline.
 */
export function toKnexBindings(sql: string, params: unknown[]): { text: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const v = params[Number(n) - 1];
    bindings.push(bound(v));
    return '?';
  });
  return { text, bindings };
}

/**
 * Runs raw SQL in the request's EntityManager: inside its transaction when there is one; a
 * `readOnly` statement outside a transaction goes where the enclosing `ReadRouter.forRead` sends
 * it (a replica, see src/db/read-routing.ts), and to the primary outside any `forRead`.
 */
export async function sqlAll<T>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
  readOnly = false,
): Promise<T[]> {
  const { text, bindings } = toKnexBindings(sql, params);
  const trx = em.getTransactionContext();
  const conn = em.getConnection('write');
  const rows = (
    !trx && readOnly
      ? await routedRead<T>(conn, text, bindings)
      : await executeDirect<T>(conn, text, bindings, trx)
  ) as Record<string, unknown>[];
  return rows.map(withDates) as T[];
}

/**
 * Runs one of the hot statements (the money path's) as a named prepared statement in the request's
 * transaction (src/db/direct-sql.ts, executePrepared): planned once per pooled connection instead
 * of on every run. Arrays travel as PostgreSQL array literals, like sqlAll's. With
 * DB_PREPARED_STATEMENTS=false it is sqlAll (values inlined).
 */
export async function sqlPrepared<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const conn = em.getConnection('write');
  if (!prepares(conn)) return sqlAll<T>(em, sql, params);
  const values = params.map(bound);
  const rows = (await executePrepared<T>(conn, sql, values, em.getTransactionContext())) as Record<
    string,
    unknown
  >[];
  return rows.map(withDates) as T[];
}

/**
 * MikroORM has the driver return timestamps as text; raw rows get Dates back for columns named by
 * the schema's convention (`*_at`, `*_deadline`).
 */
function withDates(row: Record<string, unknown>): Record<string, unknown> {
  for (const key in row) {
    const v = row[key];
    if (typeof v === 'string' && (key.endsWith('_at') || key.endsWith('_deadline'))) row[key] = new Date(v);
  }
  return row;
}
