import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../db/sql';

/**
 * DataLoader batch functions over one SQL statement that takes the keys as `$1` (a bigint[]):
 * one statement per batch, results in the order of the keys.
 */

/** Lists: the rows of each key (empty when none), in the statement's order. */
export const rowsPerKey =
  <R>(em: EntityManager, sql: string, keyOf: (r: R) => string) =>
  async (keys: readonly string[]): Promise<R[][]> => {
    const m = new Map<string, R[]>(keys.map((k) => [k, []]));
    for (const r of await sqlAll<R>(em, sql, [keys])) m.get(keyOf(r))?.push(r);
    return keys.map((k) => m.get(k)!);
  };

/** Single rows by id (null when missing). */
export const rowById =
  <R extends { id: unknown }>(em: EntityManager, sql: string) =>
  async (ids: readonly string[]): Promise<(R | null)[]> => {
    const m = new Map((await sqlAll<R>(em, sql, [ids])).map((r) => [String(r.id), r]));
    return ids.map((id) => m.get(id) ?? null);
  };
