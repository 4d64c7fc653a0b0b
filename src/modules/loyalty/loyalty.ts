import type { EntityManager } from '@mikro-orm/postgresql';
import { pointsEarned, pointsToReturn, pointsToReverse } from './loyalty.rules';
import { appendEntry, LoyaltyEntryKind, orderPoints } from './loyalty.store';

/**
 * Loyalty points, for the other modules: each function runs in the caller's transaction (the
 * checkout, the cancellation, the completion, the refund), so points move exactly when the money
 * or the order does. Every movement is an entry with a cause that is applied once
 * (docs/loyalty.md); these functions are safe to call again for the same cause.
 */

/**
 * A checkout pays with `points`: taken from the balance, all or nothing. False when the balance
 * does not cover them (the checkout then rolls back).
 */
export async function spendPoints(
  tx: EntityManager,
  buyerId: string,
  points: number,
  checkoutId: string,
): Promise<boolean> {
  if (points <= 0) return true;
  const entry = await appendEntry(tx, {
    userId: buyerId,
    kind: LoyaltyEntryKind.SPEND,
    amount: -points,
    cause: `spend:checkout:${checkoutId}`,
    checkoutId,
    covered: true,
  });
  return entry !== null;
}

/** An unpaid order was cancelled (by the buyer, an admin or its payment window): its points come back. */
export async function returnPointsOfCancelledOrder(
  tx: EntityManager,
  order: { buyerId: string; orderId: string; pointsUsed: number },
): Promise<void> {
  if (order.pointsUsed <= 0) return;
  await appendEntry(tx, {
    userId: order.buyerId,
    kind: LoyaltyEntryKind.RETURN,
    amount: order.pointsUsed,
    cause: `return:cancel:${order.orderId}`,
    orderId: order.orderId,
  });
}

/**
 * An order completed: it earns `rate` points per whole currency unit of `keptMinor` (its payment
 * less what was refunded before). Returns the points earned (0 also when earned before).
 */
export async function earnPointsForOrder(
  tx: EntityManager,
  order: { buyerId: string; orderId: string; keptMinor: number; rate: number },
): Promise<number> {
  const points = pointsEarned(order.keptMinor, order.rate);
  if (points <= 0) return 0;
  const entry = await appendEntry(tx, {
    userId: order.buyerId,
    kind: LoyaltyEntryKind.EARN,
    amount: points,
    cause: `earn:order:${order.orderId}`,
    orderId: order.orderId,
    basis: order.keptMinor,
  });
  return entry?.amount ?? 0;
}

export interface RefundOfOrder {
  buyerId: string;
  orderId: string;
  /** The refund row's id: its entries are applied once, however often the refund is delivered. */
  refundId: string;
  /** The order's share of its payment (minor units). */
  paid: number;
  /** The order's refunds before this one. */
  refundedBefore: number;
  /** This refund. */
  amount: number;
  /** Points the order was paid with. */
  pointsUsed: number;
}

/**
 * A refund of an order was recorded (admin refund or after-sale, card or balance): earned points
 * are taken back and spent points given back, in proportion (loyalty.rules.ts). Must run under
 * the lock that serializes the order's refunds (RefundService holds the order row), so the sums
 * read here include every earlier refund's entries.
 */
export async function adjustPointsForRefund(
  tx: EntityManager,
  r: RefundOfOrder,
): Promise<{ reversed: number; returned: number }> {
  const sums = await orderPoints(tx, r.buyerId, r.orderId);
  const refundedTotal = r.refundedBefore + r.amount;
  const reverse = pointsToReverse(sums, r.paid, refundedTotal);
  const give = pointsToReturn(r.pointsUsed, sums.returned, r.paid, refundedTotal);
  // The credit first: points given back for this refund then cover the reversal where they can.
  if (give > 0)
    await appendEntry(tx, {
      userId: r.buyerId,
      kind: LoyaltyEntryKind.RETURN,
      amount: give,
      cause: `return:refund:${r.refundId}`,
      orderId: r.orderId,
      refundId: r.refundId,
      basis: r.amount,
    });
  if (reverse > 0)
    await appendEntry(tx, {
      userId: r.buyerId,
      kind: LoyaltyEntryKind.REVERSE,
      amount: -reverse,
      cause: `reverse:refund:${r.refundId}`,
      orderId: r.orderId,
      refundId: r.refundId,
      basis: r.amount,
    });
  return { reversed: reverse, returned: give };
}
