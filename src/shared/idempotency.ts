import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../db/sql';

/** SHA-256 of a value's canonical JSON (object keys sorted), for request hashes and snapshot digests. */
export function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export type Claim =
  { claimed: true; resultRef: string } | { claimed: false; sameRequest: boolean; resultRef: string };

/**
 * Claims an idempotency key inside the caller's transaction. The key row commits or rolls back
 * with the work it guards: a concurrent duplicate waits on the unique key until the first
 * transaction ends, then finds its committed result (or, if it rolled back, claims the key itself).
 */
export async function claimKey(
  em: EntityManager,
  callerId: string,
  scope: string,
  key: string,
  requestHash: string,
  /** SQL for the result reference, decided when the key is claimed (e.g. a new id from a sequence). */
  resultRefSql: string,
): Promise<Claim> {
  const inserted = await sqlAll<{ result_ref: string }>(
    em,
    `insert into idempotency_key (caller_id, scope, key, request_hash, result_ref) values ($1, $2, $3, $4, ${resultRefSql})
     on conflict do nothing returning result_ref`,
    [callerId, scope, key, requestHash],
  );
  if (inserted.length === 1) return { claimed: true, resultRef: inserted[0].result_ref };
  const [row] = await sqlAll<{ request_hash: string; result_ref: string }>(
    em,
    'select request_hash, result_ref from idempotency_key where caller_id = $1 and scope = $2 and key = $3',
    [callerId, scope, key],
  );
  return { claimed: false, sameRequest: row.request_hash === requestHash, resultRef: row.result_ref };
}

/**
 * `claimKey`'s insert as a CTE body, for a statement that claims the key and reads what it guards
 * in one round trip (the checkout, the balance payment). Returns `result_ref` when this call
 * claimed the key, no row when the key was used before. The arguments are SQL expressions.
 */
export const claimKeyFrom = (k: {
  callerId: string;
  scope: string;
  key: string;
  requestHash: string;
  resultRefSql: string;
}): string =>
  `insert into idempotency_key (caller_id, scope, key, request_hash, result_ref)
   values (${k.callerId}, '${k.scope}', ${k.key}, ${k.requestHash}, ${k.resultRefSql})
   on conflict do nothing returning result_ref`;

/** Keys are kept at least `hours` hours. */
export async function purgeKeys(em: EntityManager, hours: number): Promise<void> {
  await sqlAll(em, 'delete from idempotency_key where created_at < now() - make_interval(hours => $1)', [
    hours,
  ]);
}
