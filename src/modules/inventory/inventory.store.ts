import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { StockPolicy } from '../catalog/product.entity';

/**
 * The inventory store: the only code that writes stock (`stock_reservation`, and the `on_hand`,
 * `reserved` and `sold` columns of `variant`). Each take is one conditional statement (available =
 * on_hand - reserved - sold must stay >= 0), so concurrent checkouts can never oversell; callers
 * run them inside their transaction and roll back everything when one fails.
 *
 * Where another module's one-statement write also moves stock (the checkout write, the balance
 * settlement), this file supplies the statement's stock part as a CTE fragment, so the SQL that
 * writes stock still lives here and the caller saves a round trip.
 */

export interface StockTake {
  variantId: string;
  quantity: number;
  policy: StockPolicy;
}

/** Takes stock for one line; false when not enough is available (nothing was changed then). */
export async function takeStock(em: EntityManager, t: StockTake): Promise<boolean> {
  const column =
    t.policy === StockPolicy.RESERVE_ON_ORDER
      ? 'reserved'
      : t.policy === StockPolicy.DEDUCT_ON_ORDER
        ? 'sold'
        : null;
  const rows = column
    ? await sqlAll(
        em,
        `update variant set ${column} = ${column} + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id`,
        [t.quantity, t.variantId],
      )
    : // DEDUCT_ON_PAYMENT takes nothing now, but an order for stock that is not there is refused.
      await sqlAll(em, 'select id from variant where id = $2 and on_hand - reserved - sold >= $1', [
        t.quantity,
        t.variantId,
      ]);
  return rows.length === 1;
}

export async function availableOf(em: EntityManager, variantId: string): Promise<number> {
  const [row] = await sqlAll<{ n: number }>(
    em,
    'select greatest(on_hand - reserved - sold, 0) as n from variant where id = $1',
    [variantId],
  );
  return row?.n ?? 0;
}

// ------------------------------------------------------------------ fragments for one-statement writes

/**
 * The reservations of newly placed lines, as a CTE body: `select` yields
 * (variant_id, order_id, quantity, expires_at) of the RESERVE_ON_ORDER lines.
 */
export const insertReservationsFrom = (select: string): string =>
  `insert into stock_reservation (variant_id, order_id, quantity, expires_at) ${select}`;

/**
 * Paid orders' reservations become sold stock, as CTEs of a larger statement: `paidOrderIds` is a
 * query of the paid orders' ids. Names the CTEs `released`, `per_variant` and `stock`.
 */
export const convertReservationsCtes = (paidOrderIds: string): string =>
  `released as (
   delete from stock_reservation where order_id in (${paidOrderIds}) returning variant_id, quantity
 ), per_variant as (
   select variant_id, sum(quantity)::int as q from released group by variant_id
 ), stock as (
   update variant v set reserved = v.reserved - p.q, sold = v.sold + p.q from per_variant p where v.id = p.variant_id
 )`;

// ------------------------------------------------------------------ payment

/** Paid orders' reservations become sold stock (the general settlement path). */
export async function convertReservations(em: EntityManager, orderIds: string[]): Promise<void> {
  await sqlAll(
    em,
    `with released as (delete from stock_reservation where order_id = any($1::bigint[]) returning variant_id, quantity),
          per_variant as (select variant_id, sum(quantity)::int as q from released group by variant_id)
     update variant v set reserved = v.reserved - p.q, sold = v.sold + p.q from per_variant p where v.id = p.variant_id`,
    [orderIds],
  );
}

/**
 * An order's DEDUCT_ON_PAYMENT lines take their stock when it is paid, in variant id order; false
 * (nothing taken) when one cannot: the takes of its earlier lines are undone, so its other lines
 * stay available to others.
 */
export async function takeStockOnPayment(em: EntityManager, orderId: string): Promise<boolean> {
  const lines = await sqlAll<{ variant_id: string; quantity: number }>(
    em,
    `select variant_id, quantity from order_line where order_id = $1 and stock_policy = 'DEDUCT_ON_PAYMENT' order by variant_id`,
    [orderId],
  );
  for (const l of lines) {
    const taken = await takeStock(em, {
      variantId: String(l.variant_id),
      quantity: l.quantity,
      policy: StockPolicy.DEDUCT_ON_ORDER,
    });
    if (!taken) {
      await sqlAll(
        em,
        `update variant v set sold = v.sold - ol.quantity from order_line ol
          where ol.order_id = $1 and ol.stock_policy = 'DEDUCT_ON_PAYMENT' and ol.variant_id < $2 and v.id = ol.variant_id`,
        [orderId, l.variant_id],
      );
      return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------ orders that end unpaid

/**
 * Gives back everything an unpaid order took: its reservations are deleted and un-reserved, and
 * DEDUCT_ON_ORDER units return to stock. Runs once per order, under the order's state change.
 */
export async function releaseOrderStock(em: EntityManager, orderId: string): Promise<void> {
  // Units an order took from a flash sale go back to the sale's hold (the next shopper in line
  // gets them), not to the variant; once the sale has closed and let its hold go, to the variant.
  await sqlAll(
    em,
    `with released as (delete from stock_reservation where order_id = $1 returning variant_id, quantity, flash_sale_id),
          to_hold as (update stock_reservation h set quantity = h.quantity + r.quantity from released r
                       where r.flash_sale_id is not null and h.flash_sale_id = r.flash_sale_id and h.order_id is null
                       returning h.flash_sale_id)
     update variant v set reserved = v.reserved - r.quantity from released r
      where v.id = r.variant_id and (r.flash_sale_id is null or r.flash_sale_id not in (select flash_sale_id from to_hold))`,
    [orderId],
  );
  await sqlAll(
    em,
    `update variant v set sold = v.sold - ol.quantity
       from order_line ol
      where ol.order_id = $1 and ol.stock_policy = 'DEDUCT_ON_ORDER' and v.id = ol.variant_id`,
    [orderId],
  );
}

/**
 * Units of paid orders that came back (an after-sale return) become available again: `sold`
 * goes down by each quantity. The caller makes sure this runs once per return.
 */
export async function returnSoldStock(
  em: EntityManager,
  items: { variantId: string; quantity: number }[],
): Promise<void> {
  if (items.length === 0) return;
  await sqlAll(
    em,
    `update variant v set sold = v.sold - u.q
       from (select variant_id, sum(q)::int as q from unnest($1::bigint[], $2::int[]) as t(variant_id, q) group by variant_id) u
      where v.id = u.variant_id`,
    [items.map((i) => i.variantId), items.map((i) => i.quantity)],
  );
}

// ------------------------------------------------------------------ flash-sale holds

/**
 * Holds a flash sale's units: one conditional statement takes them from the variant's available
 * stock (so a sale can never oversell it) and records them as a reservation without an order, so
 * `reserved` still equals the sum of reservations and regular checkouts cannot take them.
 * False (nothing changed) when not enough is available.
 */
export async function holdForSale(
  em: EntityManager,
  h: { flashSaleId: string; variantId: string; quantity: number; until: Date },
): Promise<boolean> {
  const rows = await sqlAll(
    em,
    `with taken as (update variant set reserved = reserved + $3 where id = $2 and on_hand - reserved - sold >= $3 returning id)
     insert into stock_reservation (variant_id, order_id, flash_sale_id, quantity, expires_at)
     select $2, null, $1, $3, $4 from taken returning id`,
    [h.flashSaleId, h.variantId, h.quantity, h.until],
  );
  return rows.length === 1;
}

/** Units a sale still holds (not taken by an order); `lock` locks the hold for the transaction. */
export async function heldUnits(em: EntityManager, flashSaleId: string, lock = false): Promise<number> {
  const [row] = await sqlAll<{ quantity: number }>(
    em,
    `select quantity from stock_reservation where flash_sale_id = $1 and order_id is null${lock ? ' for update' : ''}`,
    [flashSaleId],
  );
  return row ? Number(row.quantity) : 0;
}

/** Held units of several sales (missing: the sale has let its hold go). */
export async function heldUnitsOf(em: EntityManager, flashSaleIds: string[]): Promise<Map<string, number>> {
  const rows = await sqlAll<{ flash_sale_id: string; quantity: number }>(
    em,
    'select flash_sale_id, quantity from stock_reservation where flash_sale_id = any($1::bigint[]) and order_id is null',
    [flashSaleIds],
  );
  return new Map(rows.map((r) => [String(r.flash_sale_id), Number(r.quantity)]));
}

/**
 * Moves units from a sale's hold to reservations of the given orders (the variant's counts do not
 * change: the units stay reserved). All or nothing: false when the hold has too few.
 */
export async function reserveFromHold(
  em: EntityManager,
  r: { flashSaleId: string; variantId: string; until: Date; items: { orderId: string; quantity: number }[] },
): Promise<boolean> {
  const total = r.items.reduce((n, i) => n + i.quantity, 0);
  const rows = await sqlAll(
    em,
    `with taken as (update stock_reservation set quantity = quantity - $3
                     where flash_sale_id = $1 and order_id is null and quantity >= $3 returning id)
     insert into stock_reservation (variant_id, order_id, flash_sale_id, quantity, expires_at)
     select $2, o, $1, q, $4 from unnest($5::bigint[], $6::int[]) as u(o, q) where exists (select 1 from taken)
     returning id`,
    [
      r.flashSaleId,
      r.variantId,
      total,
      r.until,
      r.items.map((i) => i.orderId),
      r.items.map((i) => i.quantity),
    ],
  );
  return rows.length === r.items.length;
}

/** A closed sale lets its remaining hold go back to the variant's available stock. */
export async function releaseHold(em: EntityManager, flashSaleId: string): Promise<number> {
  const [row] = await sqlAll<{ quantity: number }>(
    em,
    `with released as (delete from stock_reservation where flash_sale_id = $1 and order_id is null returning variant_id, quantity),
          moved as (update variant v set reserved = v.reserved - r.quantity from released r where v.id = r.variant_id)
     select quantity from released`,
    [flashSaleId],
  );
  return row ? Number(row.quantity) : 0;
}
