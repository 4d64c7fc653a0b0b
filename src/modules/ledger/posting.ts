import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll, sqlPrepared } from '../../db/sql';
import {
  AccountKind,
  accountKey,
  isStriped,
  isValidAccount,
  LEDGER_STRIPES,
  LedgerEntryKind,
  OwnerType,
  PostingKind,
  type AccountRef,
} from './ledger';
import { InsufficientFunds, LedgerConflict } from './ledger.errors';
import { allocateStripes, stripedDebits, type PostingInput, type PostingLine } from './postings';

/**
 * Writing to the ledger: accounts made on first use, and postings written in one statement
 * (POST_SQL) inside the caller's transaction. The database checks every rule again at commit
 * (migrations/Migration20261123020000_ledger.ts).
 */

/** `posted: false`: the same (kind, reference) was posted before, with the same entries; nothing changed. */
export interface PostResult {
  posted: boolean;
  postingId: string;
}

const MAX_REFERENCE = 200;
const ENTRY_KINDS = new Set<string>(Object.values(LedgerEntryKind));
const POSTING_KINDS = new Set<string>(Object.values(PostingKind));

/**
 * One posting in one statement: lock its accounts in ascending id order (so concurrent postings
 * queue instead of deadlocking), work out each entry's balance_after (credits before debits, so no
 * entry shows less than the account ends with), claim (kind, reference), and, only when no account
 * but PROVIDER_CLEARING would go below zero, move the balances and write the entries.
 * `complete` false: an account does not exist yet (nothing written). No `posting_id`: (kind,
 * reference) was posted before (the insert's conflict check sees postings committed while this
 * statement waited for a lock, which its snapshot does not). `covered` false with a posting id: a
 * shortage (`short`); the posting row is written without entries, so the caller's transaction must
 * roll back (the database refuses to commit a posting without entries). Shared with the
 * benchmark's raw-driver baseline.
 *
 * $1 posting kind, $2 reference; per line: $3 owner type, $4 owner id (0: platform), $5 account
 * kind, $6 stripe, $7 amount, $8 entry kind, $9 reference.
 */
export const POST_SQL = `with d as (
   select * from unnest($3::text[], $4::bigint[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[])
     with ordinality as d(t, o, k, s, amount, entry_kind, reference, n)
 ), locked as materialized (
   select a.id, a.owner_type, coalesce(a.owner_id, 0) as o, a.kind, a.stripe, a.balance
     from ledger_account a
    where (a.owner_type, coalesce(a.owner_id, 0), a.kind, a.stripe) in (select d.t, d.o, d.k, d.s from d)
    order by a.id
      for update of a
 ), lines as materialized (
   select d.n, d.amount, d.entry_kind, d.reference, l.id as account_id, l.owner_type, l.o, l.kind, l.stripe,
          l.balance + sum(d.amount) over (partition by l.id order by d.amount > 0 desc, d.n) as balance_after,
          l.balance + sum(d.amount) over (partition by l.id) as balance
     from d join locked l on l.owner_type = d.t and l.o = d.o and l.kind = d.k and l.stripe = d.s
 ), verdict as (
   select count(*) = (select count(*) from d) as complete,
          coalesce(bool_and(balance >= 0 or kind = 'PROVIDER_CLEARING'), false) as covered
     from lines
 ), posting as (
   insert into ledger_posting (kind, reference)
   select $1, $2 from verdict where complete
   on conflict (kind, reference) do nothing
   returning id
 ), moved as (
   update ledger_account a set balance = x.balance
     from (select distinct account_id, balance from lines) x, posting, verdict
    where a.id = x.account_id and verdict.covered
   returning a.id
 ), entries as (
   insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
   select posting.id, l.account_id, l.amount, l.balance_after, l.entry_kind, l.reference
     from lines l, posting, verdict
    where verdict.covered
    order by l.amount > 0 desc, l.n
   returning id
 )
 select v.complete, v.covered, (select id from posting)::text as posting_id,
        (select count(*) from moved)::int as moved, (select count(*) from entries)::int as entries,
        (select json_agg(json_build_object('t', owner_type, 'o', o::text, 'k', kind, 's', stripe, 'id', account_id::text, 'balance', balance))
           from (select distinct owner_type, o, kind, stripe, account_id, balance from lines
                  where balance < 0 and kind <> 'PROVIDER_CLEARING') s) as short
   from verdict v`;

/** The parameters of POST_SQL for resolved lines (every striped line names its stripe). */
export function postParams(input: PostingInput, lines: PostingLine[]): unknown[] {
  return [
    input.kind,
    input.reference,
    lines.map((l) => l.account.ownerType),
    lines.map((l) => String(l.account.ownerId ?? 0)),
    lines.map((l) => l.account.kind),
    lines.map((l) => l.account.stripe ?? 0),
    lines.map((l) => l.amount),
    lines.map((l) => l.entryKind),
    lines.map((l) => l.reference ?? input.reference),
  ];
}

export function requireTransaction(em: EntityManager): void {
  if (!em.getTransactionContext())
    throw new Error('The ledger posts only inside a transaction (inTransaction)');
}

function checkReference(reference: string, what: string): void {
  if (typeof reference !== 'string' || reference.length < 1 || reference.length > MAX_REFERENCE) {
    throw new RangeError(`${what} must be 1 to ${MAX_REFERENCE} characters`);
  }
}

/** A posting's shape: known kinds, valid accounts, non-zero integer amounts summing to zero. */
export function validatePosting(input: PostingInput): void {
  if (!POSTING_KINDS.has(input.kind)) throw new RangeError(`Unknown posting kind ${input.kind}`);
  checkReference(input.reference, 'reference');
  if (!Array.isArray(input.lines) || input.lines.length < 2)
    throw new RangeError('A posting has at least two lines');
  let sum = 0n;
  for (const l of input.lines) {
    if (!isValidAccount(l.account)) throw new RangeError(`No such account: ${accountKey(l.account)}`);
    if (!Number.isSafeInteger(l.amount) || l.amount === 0)
      throw new RangeError(`A line's amount is a non-zero integer of minor units, got ${l.amount}`);
    if (!ENTRY_KINDS.has(l.entryKind)) throw new RangeError(`Unknown entry kind ${l.entryKind}`);
    if (l.reference !== undefined) checkReference(l.reference, 'line reference');
    sum += BigInt(l.amount);
  }
  if (sum !== 0n)
    throw new RangeError(
      `Posting ${input.kind} ${input.reference} does not balance: its lines sum to ${sum}`,
    );
}

interface AccountRow {
  id: string;
  owner_type: OwnerType;
  owner_id: string | null;
  kind: AccountKind;
  stripe: number;
}

const refOf = (r: AccountRow): AccountRef => ({
  ownerType: r.owner_type,
  ownerId: r.owner_id === null || String(r.owner_id) === '0' ? null : String(r.owner_id),
  kind: r.kind,
  stripe: Number(r.stripe) || undefined,
});

/** Parallel arrays (owner type, owner id with 0 for the platform, kind, stripe) for unnest. */
const keyArrays = (refs: AccountRef[]): [string[], string[], string[], number[]] => [
  refs.map((r) => r.ownerType),
  refs.map((r) => String(r.ownerId ?? 0)),
  refs.map((r) => r.kind),
  refs.map((r) => r.stripe ?? 0),
];

export function uniqueRefs(refs: AccountRef[]): AccountRef[] {
  const byKey = new Map<string, AccountRef>();
  for (const r of refs) {
    const ref: AccountRef = {
      ownerType: r.ownerType,
      ownerId: r.ownerId === null ? null : String(r.ownerId),
      kind: r.kind,
      ...(r.stripe ? { stripe: r.stripe } : {}),
    };
    if (!isValidAccount(ref)) throw new RangeError(`No such account: ${accountKey(ref)}`);
    byKey.set(accountKey(ref), ref);
  }
  // One fixed order (owner type, owner id, kind, stripe), so concurrent creations queue the same way.
  return [...byKey.values()].sort(
    (a, b) =>
      compare(a.ownerType, b.ownerType) ||
      compareIds(a.ownerId ?? '0', b.ownerId ?? '0') ||
      compare(a.kind, b.kind) ||
      (a.stripe ?? 0) - (b.stripe ?? 0),
  );
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Decimal ids without leading zeros: the shorter is the smaller. */
const compareIds = (a: string, b: string): number => a.length - b.length || compare(a, b);

/**
 * Makes sure the accounts exist (insert … on conflict do nothing; the platform's are made by the
 * migrations) and returns their ids by accountKey. A striped kind is made with all its stripes at
 * once, so later sales find them. New rows are inserted in one fixed order, so two transactions
 * creating the same accounts wait for each other instead of deadlocking.
 */
export async function ensureAccounts(em: EntityManager, refs: AccountRef[]): Promise<Map<string, string>> {
  const unique = uniqueRefs(refs);
  const all = uniqueRefs(
    unique.flatMap((r) =>
      isStriped(r.kind) ? Array.from({ length: LEDGER_STRIPES }, (_, stripe) => ({ ...r, stripe })) : [r],
    ),
  );
  await sqlAll(
    em,
    `insert into ledger_account (owner_type, owner_id, kind, stripe)
     select u.t, nullif(u.o, 0), u.k, u.s from unnest($1::text[], $2::bigint[], $3::text[], $4::int[]) with ordinality as u(t, o, k, s, n)
      where (u.t = 'USER' and exists (select 1 from app_user where id = u.o))
         or (u.t = 'MERCHANT' and exists (select 1 from merchant where id = u.o))
      order by u.n
     on conflict do nothing`,
    keyArrays(all),
  );
  // A statement of its own: it sees the rows another transaction committed while this one waited.
  const rows = await sqlAll<AccountRow>(
    em,
    `select a.id, a.owner_type, a.owner_id, a.kind, a.stripe from ledger_account a
       join unnest($1::text[], $2::bigint[], $3::text[], $4::int[]) as u(t, o, k, s)
         on a.owner_type = u.t and coalesce(a.owner_id, 0) = u.o and a.kind = u.k and a.stripe = u.s`,
    keyArrays(unique),
  );
  const ids = new Map<string, string>();
  for (const r of rows) ids.set(accountKey(refOf(r)), String(r.id));
  for (const w of unique) {
    if (!ids.has(accountKey(w)))
      throw new RangeError(`No ${w.ownerType.toLowerCase()} ${w.ownerId ?? ''} for account ${accountKey(w)}`);
  }
  return ids;
}

/**
 * Locks, in ascending id order, the accounts a posting with debits from striped accounts with a
 * floor touches (every stripe of those; the one stripe each other line resolves to, such as the
 * clearing stripe of the posting's reference), and returns the stripes' balances by the owner's
 * accountKey: what allocateStripes spreads the debits over.
 */
async function lockForStripedDebits(
  em: EntityManager,
  input: PostingInput,
): Promise<Map<string, Map<number, number>>> {
  const spread = new Set(stripedDebits(input.lines).map(accountKey));
  // Without balances a spread debit resolves to one stripe; it is locked with all of them (-1).
  const wanted = allocateStripes(input, new Map()).map((l) => ({
    ...l.account,
    stripe: spread.has(accountKey({ ...l.account, stripe: undefined })) ? -1 : (l.account.stripe ?? 0),
  }));
  const rows = await sqlAll<AccountRow & { balance: string }>(
    em,
    `select a.id, a.owner_type, a.owner_id, a.kind, a.stripe, a.balance from ledger_account a
      where exists (select 1 from unnest($1::text[], $2::bigint[], $3::text[], $4::int[]) as u(t, o, k, s)
                     where a.owner_type = u.t and coalesce(a.owner_id, 0) = u.o and a.kind = u.k
                       and (u.s = -1 or a.stripe = u.s))
      order by a.id for update of a`,
    [
      wanted.map((r) => r.ownerType),
      wanted.map((r) => String(r.ownerId ?? 0)),
      wanted.map((r) => r.kind),
      wanted.map((r) => r.stripe),
    ],
  );
  const stripes = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const owner = accountKey({ ...refOf(r), stripe: undefined });
    if (!spread.has(owner)) continue;
    if (!stripes.has(owner)) stripes.set(owner, new Map());
    stripes.get(owner)!.set(Number(r.stripe), Number(r.balance));
  }
  return stripes;
}

/**
 * Posts one business event in the caller's transaction (`inTransaction`). The lines must sum to
 * zero. When (kind, reference) was posted before, nothing changes and `posted` is false (a
 * retry); the earlier posting must have the same entries, or this throws LedgerConflict. A line
 * that would take an account other than PROVIDER_CLEARING below zero throws InsufficientFunds
 * before anything is written; the caller's transaction must then end (inTransaction rolls back
 * and rethrows). One statement when the accounts exist and no striped account with a floor (escrow,
 * fees) is debited: a clearing debit goes to its reference's stripe without reading balances.
 */
export async function post(em: EntityManager, input: PostingInput): Promise<PostResult> {
  requireTransaction(em);
  validatePosting(input);
  const stripes = stripedDebits(input.lines).length
    ? await lockForStripedDebits(em, input)
    : new Map<string, Map<number, number>>();
  const lines = allocateStripes(input, stripes);
  for (let attempt = 1; ; attempt++) {
    const [r] = await sqlPrepared<{
      complete: boolean;
      covered: boolean;
      posting_id: string | null;
      short: { t: OwnerType; o: string; k: AccountKind; s: number; id: string; balance: string }[] | null;
    }>(em, POST_SQL, postParams(input, lines));
    if (r.posting_id && r.covered) return { posted: true, postingId: r.posting_id };
    if (!r.complete) {
      // First use of an account: create it, then post again (its id is among the newest, so the
      // ascending lock order still holds, except when another transaction made one at the same time).
      if (attempt > 1) throw new Error(`ledger: accounts of ${input.kind} ${input.reference} are missing`);
      await ensureAccounts(
        em,
        lines.map((l) => l.account),
      );
      continue;
    }
    if (!r.posting_id) {
      // Posted before: a retry changes nothing (also one whose money is spent by then).
      const existing = await existingPosting(em, input, lines);
      if (existing) return existing;
      throw new Error(`ledger: posting ${input.kind} ${input.reference} was not written`);
    }
    const s = r.short![0];
    const account: AccountRef = {
      ownerType: s.t,
      ownerId: s.o === '0' ? null : s.o,
      kind: s.k,
      ...(s.s ? { stripe: s.s } : {}),
    };
    const delta = lines
      .filter(
        (l) => accountKey({ ...l.account, stripe: l.account.stripe || undefined }) === accountKey(account),
      )
      .reduce((sum, l) => sum + l.amount, 0);
    throw new InsufficientFunds(s.id, account, Number(s.balance) - delta, -delta);
  }
}

/**
 * The earlier posting of (kind, reference), if any, checked to move the same amounts between the
 * same accounts (owner and kind; a debit from a striped account may have been spread over other
 * stripes then) with the same entry kinds and references: the same event posted again changes nothing.
 */
async function existingPosting(
  em: EntityManager,
  input: PostingInput,
  lines: PostingLine[],
): Promise<PostResult | null> {
  const entries = await sqlAll<{
    posting_id: string;
    owner_type: string;
    owner_id: string | null;
    account_kind: string;
    amount: string;
    kind: string;
    reference: string;
  }>(
    em,
    `select p.id as posting_id, a.owner_type, a.owner_id, a.kind as account_kind, e.amount, e.kind, e.reference
       from ledger_posting p join ledger_entry e on e.posting_id = p.id join ledger_account a on a.id = e.account_id
      where p.kind = $1 and p.reference = $2`,
    [input.kind, input.reference],
  );
  if (entries.length === 0) return null;
  const signature = (xs: { key: string; amount: number }[]) => {
    const sums = new Map<string, number>();
    for (const x of xs) sums.set(x.key, (sums.get(x.key) ?? 0) + x.amount);
    return [...sums]
      .map(([k, v]) => `${k}|${v}`)
      .sort()
      .join('\n');
  };
  const theirs = signature(
    entries.map((e) => ({
      key: `${e.owner_type}|${e.owner_id ?? ''}|${e.account_kind}|${e.kind}|${e.reference}`,
      amount: Number(e.amount),
    })),
  );
  const ours = signature(
    lines.map((l) => ({
      key: `${l.account.ownerType}|${l.account.ownerId ?? ''}|${l.account.kind}|${l.entryKind}|${l.reference ?? input.reference}`,
      amount: l.amount,
    })),
  );
  const postingId = String(entries[0].posting_id);
  if (theirs !== ours) throw new LedgerConflict(input.kind, input.reference, postingId);
  return { posted: false, postingId };
}
