import { ErrorCode, UserError } from '../../shared/error-result';
import { StockPolicy } from '../catalog/product.entity';

export interface CheckoutCaps {
  /** Checkouts awaiting payment a customer may have at once. */
  maxUnpaid: number;
  /** Units a customer's unpaid checkouts may hold out of stock, this one included. */
  maxHeldUnits: number;
}

/** What a customer's unpaid checkouts hold now (orders past their deadline are not counted). */
export interface HeldByCustomer {
  checkouts: number;
  units: number;
}

/** Units a line takes out of stock before it is paid (DEDUCT_ON_PAYMENT lines take none). */
export const holdsStock = (policy: StockPolicy): boolean => policy !== StockPolicy.DEDUCT_ON_PAYMENT;

/**
 * Stock hoarding: one free account once held every unit of a variant for the whole payment window
 * with unpaid checkouts. A new checkout is refused while the customer already has `maxUnpaid`
 * checkouts awaiting payment, or when its units and those of the unpaid ones would exceed
 * `maxHeldUnits`.
 *
 * The count costs no statement of its own: the checkout write counts and writes only when there
 * is room (order.store.ts, WRITE_CHECKOUT_SQL). Two checkouts of one customer must count one after
 * the other (otherwise both could see room for one more), so the first statement of a checkout
 * takes this per-customer lock (CLAIM_AND_READ_CART_SQL), held to the commit; the write, a later
 * statement, then sees every checkout of the customer that committed before it. `buyerId` is an
 * SQL expression.
 */
export const customerCapsLockFrom = (buyerId: string): string =>
  `select pg_advisory_xact_lock(hashtextextended('checkout-caps:' || ${buyerId}::text, 0))`;

/** The error when a checkout with `newUnits` held units does not fit the caps, else null. */
export function capProblem(held: HeldByCustomer, newUnits: number, caps: CheckoutCaps): UserError | null {
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
