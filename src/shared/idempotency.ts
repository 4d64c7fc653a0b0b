import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../db/sql';
import { Rollback } from '../db/transaction';
import { ErrorCode, UserError } from './error-result';

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

export type Claim<S = never> =
  | { claimed: true; resultRef: string }
  | { claimed: false; sameRequest: boolean; resultRef: string; stored: S | null };

/** The default result reference: a new id from the caller's id sequence (`$1` is the caller). */
export const NEW_ID_REF = 'next_order_id($1)::text';

/**
 * Claims an idempotency key inside the caller's transaction. The key row commits or rolls back
 * with the work it guards: a concurrent duplicate waits on the unique key until the first
 * transaction ends, then finds its committed result (or, if it rolled back, claims the key itself).
 * `storedSql` (optional) reads the stored result in the same statement as the key: a query over
 * `k.result_ref`, e.g. `select * from payment where id = k.result_ref::bigint`.
 */
export async function claimKey<S = never>(
  em: EntityManager,
  callerId: string,
  scope: string,
  key: string,
  requestHash: string,
  /** SQL for the result reference, decided when the key is claimed (e.g. a new id from a sequence). */
  resultRefSql: string,
  storedSql?: string,
): Promise<Claim<S>> {
  const inserted = await sqlAll<{ result_ref: string }>(
    em,
    `insert into idempotency_key (caller_id, scope, key, request_hash, result_ref) values ($1, $2, $3, $4, ${resultRefSql})
     on conflict do nothing returning result_ref`,
    [callerId, scope, key, requestHash],
  );
  if (inserted.length === 1) return { claimed: true, resultRef: inserted[0].result_ref };
  return readClaim<S>(em, callerId, scope, key, requestHash, storedSql);
}

/**
 * A key known to be used before (its insert found it: `claimKey`, or a statement built with
 * `claimKeyFrom`): whether it was for the same request, its result reference, and the stored
 * result when `storedSql` is given, in one statement.
 */
export async function readClaim<S = never>(
  em: EntityManager,
  callerId: string,
  scope: string,
  key: string,
  requestHash: string,
  storedSql?: string,
): Promise<Claim<S>> {
  const stored = storedSql
    ? `, s.* from idempotency_key k left join lateral (select true as idem_found, x.* from (${storedSql}) x) s on true`
    : ' from idempotency_key k';
  const [row] = await sqlAll<{ idem_request_hash: string; idem_result_ref: string; idem_found?: boolean }>(
    em,
    `select k.request_hash as idem_request_hash, k.result_ref as idem_result_ref${stored}
      where k.caller_id = $1 and k.scope = $2 and k.key = $3`,
    [callerId, scope, key],
  );
  const { idem_request_hash, idem_result_ref, idem_found, ...rest } = row;
  return {
    claimed: false,
    sameRequest: idem_request_hash === requestHash,
    resultRef: idem_result_ref,
    stored: idem_found ? (rest as S) : null,
  };
}

/** One use of an idempotency key: who, for what, with which request. */
export interface IdempotentRequest {
  callerId: string;
  /** The kind of mutation ('checkout', 'payment', ...): keys are unique per caller and scope. */
  scope: string;
  key: string;
  /** The request's digest: a key reused with another request is refused. */
  requestHash: string;
  /** What a different request with the same key was, for the error: "a different payment". */
  subject: string;
  /** SQL for the result's reference, drawn when the key is claimed; default a new id (NEW_ID_REF). */
  resultRefSql?: string;
  /** Reads the stored result with the key, in one statement (see claimKey). */
  storedSql?: string;
}

export interface IdempotentWork<T, S> {
  /** The first request with this key: do the work. `resultRef` is the result's id, drawn with the claim. */
  run: (resultRef: string) => Promise<T>;
  /** The same request again: answer the first result (`stored`, read with the key when storedSql is given). */
  replay: (resultRef: string, stored: S | null) => Promise<T> | T;
}

/** The answer to a key used before for a different request. */
export const keyReused = (subject: string): UserError =>
  UserError.of(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    `This idempotency key was used for ${subject}`,
    'idempotencyKey',
  );

/**
 * The one idiom of every idempotent mutation, inside its transaction: claim the key (or take the
 * claim a combined statement already made, `claimed`), then run the work once, replay the stored
 * result for the same request, or roll back with IDEMPOTENCY_KEY_REUSED for a different one.
 */
export async function withIdempotency<T, S = never>(
  tx: EntityManager,
  req: IdempotentRequest,
  work: IdempotentWork<T, S>,
  claimed?: Claim<S>,
): Promise<T> {
  const claim =
    claimed ??
    (await claimKey<S>(
      tx,
      req.callerId,
      req.scope,
      req.key,
      req.requestHash,
      req.resultRefSql ?? NEW_ID_REF,
      req.storedSql,
    ));
  if (claim.claimed) return work.run(claim.resultRef);
  if (!claim.sameRequest) throw new Rollback(keyReused(req.subject));
  return work.replay(claim.resultRef, claim.stored);
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
