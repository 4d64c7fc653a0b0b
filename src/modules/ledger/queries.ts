import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { checkPageSize, decodeCursor, encodeCursor } from '../../shared/pagination';
import { accountKey, isValidAccount, type AccountRef, type LedgerEntryKind } from './ledger';

/**
 * Reading the ledger as its owners see it. A striped account (a merchant's escrow, the platform's
 * fees) reads as one account: its balance is the sum of its stripes, its entries are theirs, and
 * an entry's balanceAfter is the whole account's balance after it.
 */

export interface LedgerEntryRow {
  id: string;
  postingId: string;
  accountId: string;
  /** Signed minor units: negative leaves the account. */
  amount: number;
  balanceAfter: number;
  kind: LedgerEntryKind;
  reference: string;
  createdAt: Date;
}

export interface LedgerEntryPage {
  edges: { cursor: string; node: LedgerEntryRow }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** The stripes of the account with id $n (the account itself when it has none), as a SQL fragment. */
const siblingsOf = (n: number) =>
  `(select b.id from ledger_account a join ledger_account b
      on b.owner_type = a.owner_type and coalesce(b.owner_id, 0) = coalesce(a.owner_id, 0) and b.kind = a.kind
     where a.id = $${n})`;

/**
 * An account's id and balance (all its stripes), without creating it; null when it was never used.
 * The id is its first stripe's: what `balance` and `entries` take.
 */
export async function findAccount(
  em: EntityManager,
  ref: AccountRef,
): Promise<{ id: string; balance: number } | null> {
  if (!isValidAccount(ref)) throw new RangeError(`No such account: ${accountKey(ref)}`);
  const [row] = await sqlAll<{ id: string | null; balance: string }>(
    em,
    `select (array_agg(id order by stripe, id))[1]::text as id, sum(balance)::bigint as balance from ledger_account
      where owner_type = $1 and coalesce(owner_id, 0) = $2 and kind = $3 and ($4::int is null or stripe = $4::int)`,
    [ref.ownerType, ref.ownerId ?? 0, ref.kind, ref.stripe ?? null],
  );
  return row?.id ? { id: String(row.id), balance: Number(row.balance) } : null;
}

/** An account's balance in minor units (the sum of its stripes). */
export async function balance(em: EntityManager, accountId: string): Promise<number> {
  if (!isId(String(accountId))) throw notFound('Account', String(accountId).slice(0, 40));
  const [row] = await sqlAll<{ balance: string | null }>(
    em,
    `select sum(balance)::bigint as balance from ledger_account where id in ${siblingsOf(1)}`,
    [accountId],
  );
  if (row?.balance === null || row?.balance === undefined) throw notFound('Account', String(accountId));
  return Number(row.balance);
}

const toEntry = (r: any): LedgerEntryRow => ({
  id: String(r.id),
  postingId: String(r.posting_id),
  accountId: String(r.account_id),
  amount: Number(r.amount),
  balanceAfter: Number(r.balance_after),
  kind: r.kind,
  reference: r.reference,
  createdAt: r.created_at,
});

/** An account's entries (of all its stripes), newest first, keyset-paginated by id (Relay-style cursors). */
export async function entries(
  em: EntityManager,
  accountId: string,
  first: number,
  after: string | null | undefined,
  maxPageSize: number,
): Promise<LedgerEntryPage> {
  checkPageSize(first, maxPageSize);
  if (!isId(String(accountId))) throw notFound('Account', String(accountId).slice(0, 40));
  let before: string | null = null;
  if (after) {
    const [last] = decodeCursor(after, ['string']) as string[];
    if (!isId(last)) throw badInput('Malformed cursor', 'after');
    before = last;
  }
  // balance_after of a stripe is that stripe's; the account's is the sum of every stripe's latest
  // balance_after up to the entry (one index probe per stripe and entry, for striped accounts only).
  const rows = await sqlAll(
    em,
    `with s as (select id from ledger_account where id in ${siblingsOf(1)})
     select e.id, e.posting_id, e.account_id, e.amount, e.kind, e.reference, e.created_at,
            case when (select count(*) from s) = 1 then e.balance_after
                 else (select sum(x.b) from s cross join lateral (
                         select f.balance_after as b from ledger_entry f
                          where f.account_id = s.id and f.id <= e.id order by f.id desc limit 1) x) end as balance_after
       from ledger_entry e
      where e.account_id in (select id from s) and ($2::bigint is null or e.id < $2::bigint)
      order by e.id desc limit $3`,
    [accountId, before, first + 1],
  );
  const edges = rows
    .slice(0, first)
    .map((r) => ({ cursor: encodeCursor([String((r as any).id)]), node: toEntry(r) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > first,
      endCursor: edges.length ? edges[edges.length - 1].cursor : null,
    },
  };
}
