import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';

/**
 * The only writer of loyalty points: `loyalty_entry` and the guarded balance in
 * `app_user.points` / `app_user.points_owed` (docs/loyalty.md). Rows are turned into camelCase
 * records here and nowhere else.
 */

export enum LoyaltyEntryKind {
  /** The balance a customer had when the ledger was introduced. */
  OPENING = 'OPENING',
  /** An order completed and earned points. */
  EARN = 'EARN',
  /** A checkout paid part of its goods with points. */
  SPEND = 'SPEND',
  /** Points spent on an order came back (the order was cancelled or refunded). */
  RETURN = 'RETURN',
  /** Points earned on an order were taken back (the order was refunded after completion). */
  REVERSE = 'REVERSE',
  /** A correction made by hand. */
  ADJUST = 'ADJUST',
}

export interface LoyaltyEntry {
  id: string;
  userId: string;
  kind: LoyaltyEntryKind;
  /** What the cause was worth: credit > 0, debit < 0. */
  amount: number;
  /** How the balance moved (amount = points − owed). */
  points: number;
  /** How the debt moved: a debit beyond the balance is owed, a credit pays debt first. */
  owed: number;
  cause: string;
  orderId: string | null;
  refundId: string | null;
  checkoutId: string | null;
  basis: number | null;
  note: string | null;
  createdAt: Date;
}

export interface NewEntry {
  userId: string;
  kind: LoyaltyEntryKind;
  /** Credit > 0 or debit < 0; never 0. */
  amount: number;
  /** Unique per user: the same cause is applied once, whoever asks how often. */
  cause: string;
  orderId?: string | null;
  refundId?: string | null;
  checkoutId?: string | null;
  basis?: number | null;
  /** Why (entries made by a person). */
  note?: string | null;
  /** A debit that the balance must cover (a checkout spending): nothing is written when it cannot. */
  covered?: boolean;
}

interface EntryRow {
  id: string;
  user_id: string;
  kind: LoyaltyEntryKind;
  amount: string;
  points: string;
  owed: string;
  cause: string;
  order_id: string | null;
  refund_id: string | null;
  checkout_id: string | null;
  basis: string | null;
  note: string | null;
  created_at: Date;
}

const toEntry = (r: EntryRow): LoyaltyEntry => ({
  id: String(r.id),
  userId: String(r.user_id),
  kind: r.kind,
  amount: Number(r.amount),
  points: Number(r.points),
  owed: Number(r.owed),
  cause: r.cause,
  orderId: r.order_id === null ? null : String(r.order_id),
  refundId: r.refund_id === null ? null : String(r.refund_id),
  checkoutId: r.checkout_id === null ? null : String(r.checkout_id),
  basis: r.basis === null ? null : Number(r.basis),
  note: r.note,
  createdAt: r.created_at,
});

/**
 * Appends one entry and moves the balance with it, in one statement, under the user's row lock
 * (FOR NO KEY UPDATE, as an UPDATE of the row would take). A credit pays what is owed first; a
 * debit takes the balance down to zero at most and records the rest as owed, unless `covered`
 * asks for all or nothing. Credits stop at the integer column's range, so a huge order cannot make
 * its completion fail. Null when nothing was written: the cause was applied before, or a covered
 * debit was not covered.
 */
export async function appendEntry(tx: EntityManager, e: NewEntry): Promise<LoyaltyEntry | null> {
  if (!Number.isSafeInteger(e.amount) || e.amount === 0)
    throw new RangeError(`bad points amount ${e.amount}`);
  const [row] = await sqlAll<EntryRow>(
    tx,
    // The amount is named once (`req`): bound values may be inlined into the text, where a
    // negative one after a minus sign would read as a comment.
    `with req as (
       select $3::bigint as amount, $9::boolean as covered
     ), acct as (
       select points::bigint as points, points_owed::bigint as owed from app_user where id = $1 for no key update
     ), sized as (
       select a.points, a.owed,
              case when r.amount > 0 then least(r.amount, 2147483647 - a.points + a.owed) else r.amount end as amt
         from acct a, req r
        where r.amount > 0 or not r.covered or a.points >= 0 - r.amount
     ), split as (
       select amt,
              case when amt > 0 then amt - least(owed, amt) else -least(points, -amt) end as d_points,
              case when amt > 0 then -least(owed, amt) else -amt - least(points, -amt) end as d_owed
         from sized where amt <> 0
     ), entry as (
       insert into loyalty_entry (user_id, kind, amount, points, owed, cause, order_id, refund_id, checkout_id, basis, note)
       select $1::bigint, $2::text, amt, d_points, d_owed, $4::text, $5::bigint, $6::bigint, $7::bigint, $8::bigint, $10::text
         from split
       on conflict (user_id, cause) do nothing
       returning *
     ), moved as (
       update app_user u set points = u.points + e.points, points_owed = u.points_owed + e.owed
         from entry e where u.id = e.user_id returning u.id
     )
     select e.* from entry e where exists (select 1 from moved)`,
    [
      e.userId,
      e.kind,
      e.amount,
      e.cause,
      e.orderId ?? null,
      e.refundId ?? null,
      e.checkoutId ?? null,
      e.basis ?? null,
      e.covered ?? false,
      e.note ?? null,
    ],
  );
  return row ? toEntry(row) : null;
}

/** The entry of a cause, if it was applied. */
export async function findEntry(
  em: EntityManager,
  userId: string,
  cause: string,
): Promise<LoyaltyEntry | null> {
  const [row] = await sqlAll<EntryRow>(em, 'select * from loyalty_entry where user_id = $1 and cause = $2', [
    userId,
    cause,
  ]);
  return row ? toEntry(row) : null;
}

/** What an order's entries add up to: the basis of the next refund's reversal and return. */
export interface OrderPoints {
  earned: number;
  keptAtEarning: number;
  /** Points taken back (positive). */
  reversed: number;
  /** Spent points given back. */
  returned: number;
}

export async function orderPoints(tx: EntityManager, userId: string, orderId: string): Promise<OrderPoints> {
  const [r] = await sqlAll<{ earned: string; kept: string; reversed: string; returned: string }>(
    tx,
    `select coalesce(sum(amount) filter (where kind = 'EARN'), 0)::bigint as earned,
            coalesce(max(basis) filter (where kind = 'EARN'), 0)::bigint as kept,
            coalesce(-sum(amount) filter (where kind = 'REVERSE'), 0)::bigint as reversed,
            coalesce(sum(amount) filter (where kind = 'RETURN'), 0)::bigint as returned
       from loyalty_entry where user_id = $1 and order_id = $2`,
    [userId, orderId],
  );
  return {
    earned: Number(r.earned),
    keptAtEarning: Number(r.kept),
    reversed: Number(r.reversed),
    returned: Number(r.returned),
  };
}

/** A customer's entries, newest first (keyset page: entries older than `before`). */
export async function entriesOf(
  em: EntityManager,
  userId: string,
  first: number,
  before: string | null = null,
): Promise<LoyaltyEntry[]> {
  const rows = await sqlAll<EntryRow>(
    em,
    `select * from loyalty_entry where user_id = $1 and ($2::bigint is null or id < $2::bigint)
      order by id desc limit $3`,
    [userId, before, first],
    true,
  );
  return rows.map(toEntry);
}

/** The balance and the debt (what reversals could not take). */
export async function balanceOf(
  em: EntityManager,
  userId: string,
): Promise<{ points: number; owed: number }> {
  const [r] = await sqlAll<{ points: number; points_owed: number }>(
    em,
    'select points, points_owed from app_user where id = $1',
    [userId],
    true,
  );
  return { points: r ? Number(r.points) : 0, owed: r ? Number(r.points_owed) : 0 };
}
