import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { StockPolicy } from '../catalog/product.entity';

/**
 * Stock movements. Each take is one conditional statement (available = on_hand - reserved - sold
 * must stay >= 0), so concurrent checkouts can never oversell; callers run them inside their
 * transaction and roll back everything when one fails.
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

/**
 * Gives back everything an unpaid order took: its reservations are deleted and un-reserved, and
 * DEDUCT_ON_ORDER units return to stock. Runs once per order, under the order's state change.
 */
export async function releaseOrderStock(em: EntityManager, orderId: string): Promise<void> {
  await sqlAll(
    em,
    `with released as (delete from stock_reservation where order_id = $1 returning variant_id, quantity)
     update variant v set reserved = v.reserved - r.quantity from released r where v.id = r.variant_id`,
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
