import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { ErrorCode, UserError } from '../../shared/error-result';
import { StockPolicy } from '../catalog/product.entity';

export interface CheckoutCaps {
  /** Checkouts awaiting payment a customer may have at once. */
  maxUnpaid: number;
  /** Units a customer's unpaid checkouts may hold out of stock, this one included. */
  maxHeldUnits: number;
}

/** Units a line takes out of stock before it is paid (DEDUCT_ON_PAYMENT lines take none). */
export const holdsStock = (policy: StockPolicy): boolean => policy !== StockPolicy.DEDUCT_ON_PAYMENT;

/**
 * Stock hoarding: one free account once held every unit of a variant for the whole payment window
 * with unpaid checkouts. A new checkout is refused while the customer already has `maxUnpaid`
 * checkouts awaiting payment, or when its units and those of the unpaid ones would exceed
 * `maxHeldUnits`. Runs inside the checkout's transaction; a lock per customer makes two checkouts
 * of one customer count one after the other (otherwise both could see room for one more).
 */
export async function checkoutCapProblem(
  tx: EntityManager,
  buyerId: string,
  newUnits: number,
  caps: CheckoutCaps,
): Promise<UserError | null> {
  await sqlAll(tx, `select pg_advisory_xact_lock(hashtextextended('checkout-caps:' || $1::text, 0))`, [
    buyerId,
  ]);
  // Orders past their deadline are about to expire (their stock comes back): not counted.
  const [held] = await sqlAll<{ checkouts: number; units: number }>(
    tx,
    `select count(distinct o.checkout_id)::int as checkouts,
            coalesce(sum(l.quantity) filter (where l.stock_policy <> $2), 0)::int as units
       from shop_order o
       left join order_line l on l.order_id = o.id
      where o.buyer_id = $1 and o.status = 'PENDING_PAYMENT' and o.payment_deadline > now()`,
    [buyerId, StockPolicy.DEDUCT_ON_PAYMENT],
  );
  if (held.checkouts >= caps.maxUnpaid) {
    return UserError.of(
      ErrorCode.CHECKOUT_LIMIT_REACHED,
      `You have ${held.checkouts} checkouts awaiting payment (at most ${caps.maxUnpaid}): pay or cancel one first`,
      'cartId',
    );
  }
  if (newUnits > 0 && held.units + newUnits > caps.maxHeldUnits) {
    return UserError.of(
      ErrorCode.CHECKOUT_LIMIT_REACHED,
      `Unpaid checkouts may hold at most ${caps.maxHeldUnits} units; this one would make ${held.units + newUnits}`,
      'cartId',
    );
  }
  return null;
}
