import { StateMachine, type EntryEffects } from '../../shared/state-machine';
import { OrderStatus } from '../order/order.lifecycle';

/*
 * The after-sale lifecycle in one place: the rules, the moves of each type, who moves a request
 * into each state and what entering it does. No GraphQL here: the enums are registered in
 * aftersale.types.ts.
 */

export enum AfterSaleKind {
  REFUND_ONLY = 'REFUND_ONLY',
  RETURN_AND_REFUND = 'RETURN_AND_REFUND',
  EXCHANGE = 'EXCHANGE',
}

export enum AfterSaleStatus {
  REQUESTED = 'REQUESTED',
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
  RETURN_SHIPPED = 'RETURN_SHIPPED',
  RECEIVED = 'RECEIVED',
  REFUNDED = 'REFUNDED',
  EXCHANGE_SHIPPED = 'EXCHANGE_SHIPPED',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
}

/*
 * After-sale rules.
 *
 * Who may ask, and when (checked under the order's row lock when the request is made):
 * - REFUND_ONLY: the order is PAID (not shipped yet) or SHIPPED (in transit, e.g. a lost parcel),
 *   or DELIVERED/COMPLETED within AFTER_SALE_WINDOW_DAYS (default 14) of its delivery.
 * - RETURN_AND_REFUND and EXCHANGE: the order is DELIVERED or COMPLETED, within
 *   AFTER_SALE_WINDOW_DAYS of its delivery.
 * - Never on PENDING_PAYMENT, CANCELLED or REFUNDED orders. The window is counted from
 *   delivered_at (completed_at when delivered_at is unknown); without either, no window is open.
 * - Only the order's buyer asks. Each line and quantity must belong to the order, and no unit may be
 *   claimed twice: units claimed by the order's other after-sales count unless those were REJECTED
 *   or CANCELLED.
 *
 * What happens:
 * - The merchant (or an admin) approves or rejects while REQUESTED; rejecting needs a note. A
 *   request not reviewed by its review deadline (AFTER_SALE_REVIEW_HOURS, default 24) is approved by
 *   a delayed job, with a cron sweep as the backstop. The first decision wins; repeating the same
 *   decision returns the after-sale unchanged, the other decision is AFTER_SALE_NOT_ALLOWED.
 * - Approving RETURN_AND_REFUND or EXCHANGE needs a return address: the one given, else the last one
 *   this merchant gave on an earlier approval, else BAD_USER_INPUT. The automatic approval uses the
 *   merchant's last address and leaves it empty when there is none (the buyer is not kept waiting).
 * - REFUND_ONLY refunds on approval (APPROVED → REFUNDED in the same transaction). When the order
 *   has not shipped yet (PAID), the refunded units also go back to stock.
 * - RETURN_AND_REFUND: the buyer reports the return parcel (afterSaleReturnShip), the merchant
 *   confirms its arrival (afterSaleReceive): the units go back to stock and the refund is paid
 *   (RETURN_SHIPPED → RECEIVED → REFUNDED in one transaction).
 * - EXCHANGE: on arrival the merchant ships the replacement (same variant, so stock is unchanged:
 *   one unit comes back, one goes out): RETURN_SHIPPED → RECEIVED → EXCHANGE_SHIPPED; it is
 *   COMPLETED when the replacement's shipment is reported DELIVERED.
 * - An approval that finds the order already REFUNDED in full (by an admin refund) cancels the
 *   request instead (CANCELLED): there is nothing left to refund.
 *
 * Refund amounts: a line's share is prorated by quantity from order_line.total (its price after
 * discounts and points): with Q units costing T, the first n units refunded cost floor(T·n/Q), so a
 * refund of q units after k were refunded is floor(T·(k+q)/Q) − floor(T·k/Q). Refunds of a line add
 * up to exactly T once all its units are refunded, and never to more. The refund that covers the
 * order's last unrefunded unit also returns the shipping fee (the whole order came back), which makes
 * the order REFUNDED. No refund exceeds what is still refundable on the order's payment. Points
 * spent on the order are not given back (their value was never paid in money).
 *
 * Every change runs in one transaction that first locks the order row (serializing every claim,
 * review, return and refund of the order), writes an AFTER_SALE_UPDATED order event per status
 * change, and commits with the refund, stock and shipment it causes, or not at all.
 */

const S = AfterSaleStatus;

/** The lifecycle of each type: every allowed move; anything else is refused. */
export const afterSaleLifecycles: Readonly<Record<AfterSaleKind, StateMachine<AfterSaleStatus>>> = {
  [AfterSaleKind.REFUND_ONLY]: new StateMachine<AfterSaleStatus>({
    [S.REQUESTED]: [S.APPROVED, S.REJECTED, S.CANCELLED],
    [S.APPROVED]: [S.REFUNDED],
    [S.REJECTED]: [],
    [S.RETURN_SHIPPED]: [],
    [S.RECEIVED]: [],
    [S.REFUNDED]: [],
    [S.EXCHANGE_SHIPPED]: [],
    [S.COMPLETED]: [],
    [S.CANCELLED]: [],
  }),
  [AfterSaleKind.RETURN_AND_REFUND]: new StateMachine<AfterSaleStatus>({
    [S.REQUESTED]: [S.APPROVED, S.REJECTED, S.CANCELLED],
    [S.APPROVED]: [S.RETURN_SHIPPED],
    [S.REJECTED]: [],
    [S.RETURN_SHIPPED]: [S.RECEIVED],
    [S.RECEIVED]: [S.REFUNDED],
    [S.REFUNDED]: [],
    [S.EXCHANGE_SHIPPED]: [],
    [S.COMPLETED]: [],
    [S.CANCELLED]: [],
  }),
  [AfterSaleKind.EXCHANGE]: new StateMachine<AfterSaleStatus>({
    [S.REQUESTED]: [S.APPROVED, S.REJECTED, S.CANCELLED],
    [S.APPROVED]: [S.RETURN_SHIPPED],
    [S.REJECTED]: [],
    [S.RETURN_SHIPPED]: [S.RECEIVED],
    [S.RECEIVED]: [S.EXCHANGE_SHIPPED],
    [S.REFUNDED]: [],
    [S.EXCHANGE_SHIPPED]: [S.COMPLETED],
    [S.COMPLETED]: [],
    [S.CANCELLED]: [],
  }),
};

/**
 * Who moves an after-sale into each state and what entering it does. Every move also writes an
 * AFTER_SALE_UPDATED order event (aftersale.store.ts#moveAfterSale), under the order's row lock.
 */
export const afterSaleEntry: EntryEffects<AfterSaleStatus> = {
  [S.REQUESTED]: {
    enteredBy: [
      {
        does: 'afterSaleRequest by the buyer (idempotent by key)',
        by: 'aftersale/aftersale.request.ts#requestAfterSale',
      },
    ],
    effects: [
      {
        does: 'the request and its lines claim units of the order (never more than were bought)',
        by: 'aftersale/aftersale.request.ts#requestAfterSale',
      },
      {
        does: 'the review-deadline job: unreviewed after AFTER_SALE_REVIEW_HOURS, it is approved',
        by: 'aftersale/aftersale.review.ts#autoApprove',
      },
    ],
  },
  [S.APPROVED]: {
    enteredBy: [
      {
        does: 'afterSaleReview by the merchant or an admin',
        by: 'aftersale/aftersale.review.ts#reviewAfterSale',
      },
      {
        does: 'the review deadline (job, and its backstop sweep)',
        by: 'aftersale/aftersale.review.ts#approveOverdue',
      },
    ],
    effects: [
      {
        does: 'REFUND_ONLY: refunded at once (→ REFUNDED); units of a PAID order go back to stock',
        by: 'aftersale/aftersale.review.ts#approveInTransaction',
      },
      {
        does: "returns and exchanges: the return address (given, or the merchant's last one)",
        by: 'aftersale/aftersale.review.ts#approveInTransaction',
      },
    ],
  },
  [S.REJECTED]: {
    enteredBy: [
      { does: 'afterSaleReview (a note is required)', by: 'aftersale/aftersale.review.ts#reviewAfterSale' },
    ],
    effects: [
      {
        does: 'its units are no longer claimed (RELEASED_STATES)',
        by: 'aftersale/aftersale.request.ts#requestAfterSale',
      },
    ],
  },
  [S.RETURN_SHIPPED]: {
    enteredBy: [
      { does: 'afterSaleReturnShip by the buyer', by: 'aftersale/aftersale.returns.ts#returnShip' },
    ],
    effects: [
      {
        does: 'the RETURN shipment, tracked like any parcel',
        by: 'fulfillment/shipment.store.ts#insertShipment',
      },
    ],
  },
  [S.RECEIVED]: {
    enteredBy: [
      { does: 'afterSaleReceive by the merchant', by: 'aftersale/aftersale.returns.ts#receiveReturn' },
    ],
    effects: [
      {
        does: 'RETURN_AND_REFUND: the units go back to stock, then the refund (→ REFUNDED)',
        by: 'aftersale/aftersale.refund.ts#restockAfterSale',
      },
      {
        does: 'EXCHANGE: the replacement ships (→ EXCHANGE_SHIPPED)',
        by: 'aftersale/aftersale.returns.ts#receiveReturn',
      },
    ],
  },
  [S.REFUNDED]: {
    enteredBy: [
      {
        does: 'approval (REFUND_ONLY) or receipt (RETURN_AND_REFUND), same transaction',
        by: 'aftersale/aftersale.refund.ts#refundAfterSale',
      },
    ],
    effects: [
      {
        does: 'the prorated refund (the last unit also returns shipping); the order may become REFUNDED',
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
    ],
  },
  [S.EXCHANGE_SHIPPED]: {
    enteredBy: [
      { does: 'afterSaleReceive of an exchange', by: 'aftersale/aftersale.returns.ts#receiveReturn' },
    ],
    effects: [
      {
        does: 'the EXCHANGE shipment of the replacement',
        by: 'fulfillment/shipment.store.ts#insertShipment',
      },
    ],
  },
  [S.COMPLETED]: {
    enteredBy: [
      {
        does: 'the carrier reports the replacement DELIVERED',
        by: 'aftersale/aftersale.returns.ts#completeExchangeInTransaction',
      },
      {
        does: 'the backstop sweep of delivered replacements',
        by: 'aftersale/aftersale.returns.ts#completeDeliveredExchanges',
      },
    ],
    effects: [],
  },
  [S.CANCELLED]: {
    enteredBy: [
      {
        does: 'an approval that finds the order already REFUNDED in full',
        by: 'aftersale/aftersale.review.ts#approveInTransaction',
      },
    ],
    effects: [
      {
        does: 'its units are no longer claimed (RELEASED_STATES)',
        by: 'aftersale/aftersale.request.ts#requestAfterSale',
      },
    ],
  },
};

/** After-sales in these states no longer claim their units. */
export const RELEASED_STATES: readonly AfterSaleStatus[] = [S.REJECTED, S.CANCELLED];

export const isRefundType = (t: AfterSaleKind): boolean => t !== AfterSaleKind.EXCHANGE;

const DAY_MS = 24 * 3600 * 1000;

/**
 * Why `type` cannot be requested on an order in `status` at `now`, or null when it can.
 * `deliveredAt` is when the order was delivered (or completed, when that is all that is known).
 */
export function requestRefusal(
  type: AfterSaleKind,
  order: { status: OrderStatus; deliveredAt: Date | null },
  now: Date,
  windowDays: number,
): string | null {
  const delivered = order.status === OrderStatus.DELIVERED || order.status === OrderStatus.COMPLETED;
  if (delivered) {
    if (!order.deliveredAt) return 'The order has no delivery date to count the after-sale window from';
    if (now.getTime() > order.deliveredAt.getTime() + windowDays * DAY_MS) {
      return `After-sale requests are possible up to ${windowDays} days after delivery`;
    }
    return null;
  }
  if (
    type === AfterSaleKind.REFUND_ONLY &&
    (order.status === OrderStatus.PAID || order.status === OrderStatus.SHIPPED)
  )
    return null;
  if (order.status === OrderStatus.PAID || order.status === OrderStatus.SHIPPED) {
    return `${type === AfterSaleKind.EXCHANGE ? 'An exchange' : 'A return'} is possible once the order is delivered`;
  }
  return `No after-sale request is possible on a ${order.status} order`;
}

/**
 * The refund for `units` more units of a line of `quantity` units costing `total`, after
 * `refundedUnits` were refunded: floor(total·(k+q)/Q) − floor(total·k/Q), exact in BigInt.
 */
export function prorate(total: number, quantity: number, refundedUnits: number, units: number): number {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`bad line total ${total}`);
  if (!Number.isInteger(quantity) || quantity <= 0) throw new RangeError(`bad line quantity ${quantity}`);
  if (
    !Number.isInteger(refundedUnits) ||
    !Number.isInteger(units) ||
    refundedUnits < 0 ||
    units < 0 ||
    refundedUnits + units > quantity
  ) {
    throw new RangeError(`cannot refund ${units} more of ${quantity} units after ${refundedUnits}`);
  }
  const cum = (n: number) => (BigInt(total) * BigInt(n)) / BigInt(quantity);
  return Number(cum(refundedUnits + units) - cum(refundedUnits));
}
