import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { checkPageSize, decodeCursor, encodeCursor } from '../../shared/pagination';
import {
  AccountKind,
  accountKey,
  FEE_REVENUE,
  isValidAccount,
  LedgerEntryKind,
  merchantAvailable,
  merchantEscrow,
  OwnerType,
  PostingKind,
  PROVIDER_CLEARING,
  userAvailable,
  type AccountRef,
  type PurchasePart,
} from './ledger';
import { InsufficientFunds, LedgerConflict } from './ledger.errors';

export * from './ledger';
export { InsufficientFunds, LedgerConflict } from './ledger.errors';

/** One entry of a posting: `amount` (signed minor units, never 0) into or out of `account`. */
export interface PostingLine {
  account: AccountRef;
  amount: number;
  entryKind: LedgerEntryKind;
  /** What the entry names (an order of a checkout); the posting's reference when absent. */
  reference?: string;
}

export interface PostingInput {
  kind: PostingKind;
  /** The business event (payment, refund, top-up, order); (kind, reference) is posted once. */
  reference: string;
  lines: PostingLine[];
}

/** `posted: false`: the same (kind, reference) was posted before, with the same entries; nothing changed. */
export interface PostResult {
  posted: boolean;
  postingId: string;
}

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

export interface PurchaseInput {
  buyerId: string;
  /** The payment (or checkout) being paid: a PURCHASE posting per reference. */
  reference: string;
  parts: PurchasePart[];
}

export interface RefundInput {
  /** The refund: a REFUND posting per reference. */
  reference: string;
  buyerId: string;
  merchantId: string;
  /** What goes back to the buyer (or the card). */
  amount: number;
  /** The platform fee part of `amount` given back (see refundFeeShare); the rest comes from the merchant. */
  fee: number;
  /** The merchant's account the refund comes from: ESCROW before release, AVAILABLE after. */
  from?: AccountKind.ESCROW | AccountKind.AVAILABLE;
  /** What the entries name (the order); `reference` when absent. */
  entryReference?: string;
}

interface LockedAccount {
  id: string;
  kind: AccountKind;
  balance: number;
}

const MAX_REFERENCE = 200;

function requireTransaction(em: EntityManager): void {
  if (!em.getTransactionContext())
    throw new Error('The ledger posts only inside a transaction (inTransaction)');
}

function checkReference(reference: string, what: string): void {
  if (typeof reference !== 'string' || reference.length < 1 || reference.length > MAX_REFERENCE) {
    throw new RangeError(`${what} must be 1 to ${MAX_REFERENCE} characters`);
  }
}

function checkPositive(amount: number, what: string): void {
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new RangeError(`${what} must be a positive integer of minor units, got ${amount}`);
}

const ENTRY_KINDS = new Set<string>(Object.values(LedgerEntryKind));
const POSTING_KINDS = new Set<string>(Object.values(PostingKind));

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

/**
 * The double-entry ledger. Every money movement is one posting whose entries sum to zero,
 * written in the caller's transaction together with the balance changes; the database rejects
 * anything else at commit (migrations/Migration20261123020000_ledger.ts).
 */
export class LedgerService {
  constructor(private readonly maxPageSize = 100) {}

  /** The id of an account, created (empty) on first use. Users and merchants must exist. */
  async accountOf(
    em: EntityManager,
    ownerType: OwnerType,
    ownerId: string | null,
    kind: AccountKind,
  ): Promise<string> {
    const ref = { ownerType, ownerId: ownerId === null ? null : String(ownerId), kind };
    const ids = await this.ensureAccounts(em, [ref]);
    return ids.get(accountKey(ref))!;
  }

  /** An account's id and balance, without creating it; null when it was never used. */
  async findAccount(em: EntityManager, ref: AccountRef): Promise<{ id: string; balance: number } | null> {
    if (!isValidAccount(ref)) throw new RangeError(`No such account: ${accountKey(ref)}`);
    const [row] = await sqlAll<{ id: string; balance: string }>(
      em,
      'select id, balance from ledger_account where owner_type = $1 and coalesce(owner_id, 0) = $2 and kind = $3',
      [ref.ownerType, ref.ownerId ?? 0, ref.kind],
    );
    return row ? { id: String(row.id), balance: Number(row.balance) } : null;
  }

  /**
   * Makes sure the accounts exist (insert … on conflict do nothing; the platform's are made by
   * the migration) and returns their ids by accountKey. New rows are inserted in one fixed order,
   * so two transactions creating the same accounts wait for each other instead of deadlocking.
   */
  async ensureAccounts(em: EntityManager, refs: AccountRef[]): Promise<Map<string, string>> {
    const unique = uniqueRefs(refs);
    const params = keyArrays(unique);
    await sqlAll(
      em,
      `insert into ledger_account (owner_type, owner_id, kind)
       select u.t, u.o, u.k from unnest($1::text[], $2::bigint[], $3::text[]) with ordinality as u(t, o, k, n)
        where (u.t = 'USER' and exists (select 1 from app_user where id = u.o))
           or (u.t = 'MERCHANT' and exists (select 1 from merchant where id = u.o))
        order by u.n
       on conflict do nothing`,
      params,
    );
    const rows = await sqlAll<{
      id: string;
      owner_type: OwnerType;
      owner_id: string | null;
      kind: AccountKind;
    }>(
      em,
      `select a.id, a.owner_type, a.owner_id, a.kind from ledger_account a
         join unnest($1::text[], $2::bigint[], $3::text[]) as u(t, o, k)
           on a.owner_type = u.t and coalesce(a.owner_id, 0) = u.o and a.kind = u.k`,
      params,
    );
    return this.byKey(unique, rows, (r) => String(r.id));
  }

  /**
   * Posts one business event in the caller's transaction (`inTransaction`). The lines must sum to
   * zero. When (kind, reference) was posted before, nothing changes and `posted` is false (a
   * retry); the earlier posting must have the same entries, or this throws LedgerConflict.
   * Otherwise the accounts are locked in ascending id order (so concurrent postings queue instead
   * of deadlocking), balances change and the entries record balance_after. A line that would take
   * an account other than PROVIDER_CLEARING below zero throws InsufficientFunds before anything is
   * written; the caller's transaction must then end (inTransaction rolls back and rethrows).
   */
  async post(em: EntityManager, input: PostingInput): Promise<PostResult> {
    requireTransaction(em);
    this.validate(input);
    const accounts = await this.lockAccounts(
      em,
      input.lines.map((l) => l.account),
    );

    // Credits before debits, so no entry's balance_after is below the account's final balance.
    const lines = input.lines
      .map((l, i) => ({ ...l, i, accountId: accounts.get(accountKey(l.account))!.id }))
      .sort((a, b) => Number(b.amount > 0) - Number(a.amount > 0) || a.i - b.i);
    const delta = new Map<string, number>();
    for (const l of lines) delta.set(l.accountId, (delta.get(l.accountId) ?? 0) + l.amount);

    for (const l of input.lines) {
      const a = accounts.get(accountKey(l.account))!;
      const d = delta.get(a.id)!;
      if (a.kind !== AccountKind.PROVIDER_CLEARING && a.balance + d < 0) {
        // A retry of a posting that already spent the money is not a shortage.
        const existing = await this.existingPosting(em, input, lines);
        if (existing) return existing;
        throw new InsufficientFunds(a.id, l.account, a.balance, -d);
      }
    }

    const [posting] = await sqlAll<{ id: string }>(
      em,
      'insert into ledger_posting (kind, reference) values ($1, $2) on conflict (kind, reference) do nothing returning id',
      [input.kind, input.reference],
    );
    if (!posting) return (await this.existingPosting(em, input, lines))!;
    const postingId = String(posting.id);

    const ids = [...delta.keys()];
    const changed = await sqlAll<{ id: string }>(
      em,
      `update ledger_account a set balance = a.balance + d.delta
         from unnest($1::bigint[], $2::bigint[]) as d(id, delta)
        where a.id = d.id and (a.balance + d.delta >= 0 or a.kind = 'PROVIDER_CLEARING')
        returning a.id`,
      [ids, ids.map((id) => delta.get(id)!)],
    );
    // Cannot happen while the rows are locked; if it did, the transaction must not commit.
    if (changed.length !== ids.length)
      throw new Error(`ledger: balance update refused for posting ${input.kind} ${input.reference}`);

    const running = new Map<string, number>();
    for (const a of accounts.values()) running.set(a.id, a.balance);
    const after = lines.map((l) => {
      const b = running.get(l.accountId)! + l.amount;
      running.set(l.accountId, b);
      return b;
    });
    await sqlAll(
      em,
      `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
       select $1, u.a, u.m, u.b, u.k, u.r
         from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) with ordinality as u(a, m, b, k, r, n)
        order by u.n`,
      [
        postingId,
        lines.map((l) => l.accountId),
        lines.map((l) => l.amount),
        after,
        lines.map((l) => l.entryKind),
        lines.map((l) => l.reference ?? input.reference),
      ],
    );
    return { posted: true, postingId };
  }

  /** An account's balance in minor units. */
  async balance(em: EntityManager, accountId: string): Promise<number> {
    if (!isId(String(accountId))) throw notFound('Account', String(accountId).slice(0, 40));
    const [row] = await sqlAll<{ balance: string }>(em, 'select balance from ledger_account where id = $1', [
      accountId,
    ]);
    if (!row) throw notFound('Account', String(accountId));
    return Number(row.balance);
  }

  /** An account's entries, newest first, keyset-paginated by id (Relay-style cursors). */
  async entries(
    em: EntityManager,
    accountId: string,
    first = 20,
    after?: string | null,
  ): Promise<LedgerEntryPage> {
    checkPageSize(first, this.maxPageSize);
    if (!isId(String(accountId))) throw notFound('Account', String(accountId).slice(0, 40));
    let before: string | null = null;
    if (after) {
      const [last] = decodeCursor(after, ['string']) as string[];
      if (!isId(last)) throw badInput('Malformed cursor', 'after');
      before = last;
    }
    const rows = await sqlAll(
      em,
      `select * from ledger_entry where account_id = $1 and ($2::bigint is null or id < $2::bigint) order by id desc limit $3`,
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

  /**
   * Everything that must always hold, checked in one statement (one snapshot, so it is exact even
   * while postings are being made); each problem found, at most `limit`. Empty means healthy.
   */
  async checkInvariants(em: EntityManager, limit = 100): Promise<LedgerProblem[]> {
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

  // ------------------------------------------------------------------ the postings payments make

  /** Money paid in by card: the provider holds it (clearing), the user may spend it. */
  topUp(em: EntityManager, userId: string, amount: number, reference: string): Promise<PostResult> {
    checkPositive(amount, 'amount');
    return this.post(em, {
      kind: PostingKind.TOP_UP,
      reference,
      lines: [
        { account: PROVIDER_CLEARING, amount: -amount, entryKind: LedgerEntryKind.TOP_UP },
        { account: userAvailable(userId), amount, entryKind: LedgerEntryKind.TOP_UP },
      ],
    });
  }

  /** A purchase paid from the buyer's balance: each merchant's sale net of fee into escrow, fees to the platform. */
  purchaseWithBalance(em: EntityManager, input: PurchaseInput): Promise<PostResult> {
    return this.purchase(em, input, userAvailable(input.buyerId));
  }

  /** A purchase paid by card: the money is at the provider (clearing); sales and fees as with balance. */
  purchaseWithCard(em: EntityManager, input: PurchaseInput): Promise<PostResult> {
    return this.purchase(em, input, PROVIDER_CLEARING);
  }

  /** An order completed: its sale moves from the merchant's escrow to the merchant's available balance. */
  releaseEscrow(
    em: EntityManager,
    merchantId: string,
    amount: number,
    reference: string,
  ): Promise<PostResult> {
    checkPositive(amount, 'amount');
    return this.post(em, {
      kind: PostingKind.ESCROW_RELEASE,
      reference,
      lines: [
        { account: merchantEscrow(merchantId), amount: -amount, entryKind: LedgerEntryKind.SALE },
        { account: merchantAvailable(merchantId), amount, entryKind: LedgerEntryKind.SALE },
      ],
    });
  }

  /** Gives (part of) a purchase back to the buyer's balance: from the merchant and the platform fee. */
  refundToBalance(em: EntityManager, input: RefundInput): Promise<PostResult> {
    return this.refund(em, input, userAvailable(input.buyerId));
  }

  /** Gives (part of) a card purchase back to the card: the provider pays it out (clearing). */
  refundToCard(em: EntityManager, input: RefundInput): Promise<PostResult> {
    return this.refund(em, input, PROVIDER_CLEARING);
  }

  private purchase(em: EntityManager, input: PurchaseInput, payer: AccountRef): Promise<PostResult> {
    if (input.parts.length === 0) throw new RangeError('A purchase has at least one part');
    let total = 0;
    const lines: PostingLine[] = [];
    for (const p of input.parts) {
      checkPositive(p.amount, 'part amount');
      if (!Number.isSafeInteger(p.fee) || p.fee < 0 || p.fee > p.amount)
        throw new RangeError(`fee must be from 0 to the part's amount, got ${p.fee}`);
      total += p.amount;
      if (p.amount > p.fee)
        lines.push({
          account: merchantEscrow(p.merchantId),
          amount: p.amount - p.fee,
          entryKind: LedgerEntryKind.SALE,
          reference: p.reference,
        });
      if (p.fee > 0)
        lines.push({
          account: FEE_REVENUE,
          amount: p.fee,
          entryKind: LedgerEntryKind.PLATFORM_FEE,
          reference: p.reference,
        });
    }
    checkPositive(total, 'total');
    return this.post(em, {
      kind: PostingKind.PURCHASE,
      reference: input.reference,
      lines: [{ account: payer, amount: -total, entryKind: LedgerEntryKind.PURCHASE }, ...lines],
    });
  }

  private refund(em: EntityManager, input: RefundInput, payee: AccountRef): Promise<PostResult> {
    checkPositive(input.amount, 'amount');
    if (!Number.isSafeInteger(input.fee) || input.fee < 0 || input.fee > input.amount) {
      throw new RangeError(`fee must be from 0 to the refund's amount, got ${input.fee}`);
    }
    const from = input.from ?? AccountKind.ESCROW;
    const merchant =
      from === AccountKind.ESCROW ? merchantEscrow(input.merchantId) : merchantAvailable(input.merchantId);
    const reference = input.entryReference;
    const lines: PostingLine[] = [];
    if (input.amount > input.fee)
      lines.push({
        account: merchant,
        amount: -(input.amount - input.fee),
        entryKind: LedgerEntryKind.REFUND,
        reference,
      });
    if (input.fee > 0)
      lines.push({ account: FEE_REVENUE, amount: -input.fee, entryKind: LedgerEntryKind.REFUND, reference });
    lines.push({ account: payee, amount: input.amount, entryKind: LedgerEntryKind.REFUND, reference });
    return this.post(em, { kind: PostingKind.REFUND, reference: input.reference, lines });
  }

  // ------------------------------------------------------------------ internals

  private validate(input: PostingInput): void {
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

  /**
   * Locks the posting's accounts (creating missing ones first) in ascending id order: every
   * posting takes its row locks in that one order, so concurrent postings queue, never deadlock.
   */
  private async lockAccounts(em: EntityManager, refs: AccountRef[]): Promise<Map<string, LockedAccount>> {
    const unique = uniqueRefs(refs);
    const lock = async (wanted: AccountRef[]) =>
      sqlAll<{
        id: string;
        owner_type: OwnerType;
        owner_id: string | null;
        kind: AccountKind;
        balance: string;
      }>(
        em,
        `select a.id, a.owner_type, a.owner_id, a.kind, a.balance from ledger_account a
           join unnest($1::text[], $2::bigint[], $3::text[]) as u(t, o, k)
             on a.owner_type = u.t and coalesce(a.owner_id, 0) = u.o and a.kind = u.k
          order by a.id for update of a`,
        keyArrays(wanted),
      );
    let rows = await lock(unique);
    if (rows.length < unique.length) {
      // First use of an account: create it, then lock the new ones (their ids are the newest, so
      // the ascending order still holds, except when another transaction made one at the same time).
      const found = new Set(
        rows.map((r) =>
          accountKey({
            ownerType: r.owner_type,
            ownerId: r.owner_id === null ? null : String(r.owner_id),
            kind: r.kind,
          }),
        ),
      );
      const missing = unique.filter((r) => !found.has(accountKey(r)));
      await this.ensureAccounts(em, missing);
      rows = [...rows, ...(await lock(missing))];
    }
    return this.byKey(unique, rows, (r) => ({ id: String(r.id), kind: r.kind, balance: Number(r.balance) }));
  }

  private byKey<R extends { owner_type: OwnerType; owner_id: string | null; kind: AccountKind }, V>(
    wanted: AccountRef[],
    rows: R[],
    value: (r: R) => V,
  ): Map<string, V> {
    const map = new Map<string, V>();
    for (const r of rows)
      map.set(
        accountKey({
          ownerType: r.owner_type,
          ownerId: r.owner_id === null ? null : String(r.owner_id),
          kind: r.kind,
        }),
        value(r),
      );
    for (const w of wanted) {
      if (!map.has(accountKey(w)))
        throw new RangeError(
          `No ${w.ownerType.toLowerCase()} ${w.ownerId ?? ''} for account ${accountKey(w)}`,
        );
    }
    return map;
  }

  /**
   * The earlier posting of (kind, reference), if any, checked to have the same entries (the same
   * accounts, amounts, kinds and references): the same event posted again changes nothing.
   */
  private async existingPosting(
    em: EntityManager,
    input: PostingInput,
    lines: { accountId: string; amount: number; entryKind: LedgerEntryKind; reference?: string }[],
  ): Promise<PostResult | null> {
    const [p] = await sqlAll<{ id: string }>(
      em,
      'select id from ledger_posting where kind = $1 and reference = $2',
      [input.kind, input.reference],
    );
    if (!p) return null;
    const entries = await sqlAll<{ account_id: string; amount: string; kind: string; reference: string }>(
      em,
      'select account_id, amount, kind, reference from ledger_entry where posting_id = $1',
      [p.id],
    );
    const signature = (xs: string[]) => xs.sort().join('\n');
    const theirs = signature(entries.map((e) => `${e.account_id}|${e.amount}|${e.kind}|${e.reference}`));
    const ours = signature(
      lines.map((l) => `${l.accountId}|${l.amount}|${l.entryKind}|${l.reference ?? input.reference}`),
    );
    if (theirs !== ours) throw new LedgerConflict(input.kind, input.reference, String(p.id));
    return { posted: false, postingId: String(p.id) };
  }
}

function uniqueRefs(refs: AccountRef[]): AccountRef[] {
  const byKey = new Map<string, AccountRef>();
  for (const r of refs) {
    const ref = {
      ownerType: r.ownerType,
      ownerId: r.ownerId === null ? null : String(r.ownerId),
      kind: r.kind,
    };
    if (!isValidAccount(ref)) throw new RangeError(`No such account: ${accountKey(ref)}`);
    byKey.set(accountKey(ref), ref);
  }
  // One fixed order (owner type, owner id, kind), so concurrent creations queue the same way.
  return [...byKey.values()].sort(
    (a, b) =>
      compare(a.ownerType, b.ownerType) ||
      compareIds(a.ownerId ?? '0', b.ownerId ?? '0') ||
      compare(a.kind, b.kind),
  );
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Decimal ids without leading zeros: the shorter is the smaller. */
const compareIds = (a: string, b: string): number => a.length - b.length || compare(a, b);

/** Parallel arrays (owner type, owner id with 0 for the platform, kind) for unnest. */
const keyArrays = (refs: AccountRef[]): [string[], string[], string[]] => [
  refs.map((r) => r.ownerType),
  refs.map((r) => String(r.ownerId ?? 0)),
  refs.map((r) => r.kind),
];
