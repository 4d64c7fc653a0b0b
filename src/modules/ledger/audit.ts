import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';

/** Checking the ledger: every rule it must satisfy, as one read. */

export enum LedgerInvariant {
  /** A posting's entries do not sum to zero, or it has fewer than two. */
  POSTING_UNBALANCED = 'POSTING_UNBALANCED',
  /** An account's balance is not the sum of its entries. */
  BALANCE_MISMATCH = 'BALANCE_MISMATCH',
  /** An entry's balance_after is not the running sum of its account's entries. */
  BALANCE_AFTER_MISMATCH = 'BALANCE_AFTER_MISMATCH',
  /** A user's, merchant's or the fee account's balance (or balance_after) is below zero. */
  NEGATIVE_BALANCE = 'NEGATIVE_BALANCE',
  /** The balances of all accounts do not add up to zero. */
  LEDGER_NOT_ZERO = 'LEDGER_NOT_ZERO',
}

export interface LedgerProblem {
  invariant: LedgerInvariant;
  /** The posting, account or entry id at fault; null for the ledger as a whole. */
  subject: string | null;
  detail: string;
}

/**
 * Everything that must always hold, checked in one statement (one snapshot, so it is exact even
 * while postings are being made); each problem found, at most `limit`. Empty means healthy. A
 * striped account's stripes are accounts of their own here: each one satisfies every rule.
 */
export async function checkInvariants(em: EntityManager, limit = 100): Promise<LedgerProblem[]> {
  const rows = await sqlAll<{ invariant: LedgerInvariant; subject: string | null; detail: string }>(
    em,
    `with entry_sums as (
       select p.id, p.kind, p.reference, count(e.id) as n, coalesce(sum(e.amount), 0) as total
         from ledger_posting p left join ledger_entry e on e.posting_id = p.id group by p.id
     ), account_sums as (
       select a.id, a.kind, a.balance, coalesce(sum(e.amount), 0) as total
         from ledger_account a left join ledger_entry e on e.account_id = a.id group by a.id
     ), running as (
       select e.id, e.account_id, e.amount, e.balance_after, a.kind,
              sum(e.amount) over (partition by e.account_id order by e.id) as expected
         from ledger_entry e join ledger_account a on a.id = e.account_id
     )
     select * from (
       select 'POSTING_UNBALANCED' as invariant, id::text as subject,
              format('posting %s %s has %s entries summing to %s', kind, reference, n, total) as detail
         from entry_sums where total <> 0 or n < 2
       union all
       select 'BALANCE_MISMATCH', id::text, format('account %s has balance %s, its entries sum to %s', id, balance, total)
         from account_sums where balance <> total
       union all
       select 'NEGATIVE_BALANCE', id::text, format('%s account %s has balance %s', kind, id, balance)
         from account_sums where balance < 0 and kind <> 'PROVIDER_CLEARING'
       union all
       select 'BALANCE_AFTER_MISMATCH', id::text, format('entry %s of account %s has balance_after %s, the running sum is %s', id, account_id, balance_after, expected)
         from running where balance_after <> expected
       union all
       select 'NEGATIVE_BALANCE', id::text, format('entry %s leaves %s account %s at %s', id, kind, account_id, balance_after)
         from running where balance_after < 0 and kind <> 'PROVIDER_CLEARING'
       union all
       select 'LEDGER_NOT_ZERO', null, format('the balances of all accounts sum to %s', total)
         from (select coalesce(sum(balance), 0) as total from ledger_account) t where total <> 0
     ) problems limit $1`,
    [limit],
  );
  return rows.map((r) => ({ invariant: r.invariant, subject: r.subject, detail: r.detail }));
}
