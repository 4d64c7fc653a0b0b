import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { convertReservations, takeStockOnPayment } from '../inventory/inventory.store';
import { partsWithFee, type LedgerService } from '../ledger/ledger.service';
import { OrderStateError } from '../order/order.errors';
import { OrderStatus } from '../order/order.lifecycle';
import type { OrderService } from '../order/order.service';
import { paymentLifecycle, PaymentMethod, PaymentStatus } from './payment.lifecycle';
import { lockPayment, type PaymentRow } from './payment.store';
import type { RefundService } from './refund.service';

/*
 * Payment settlement: the one place a payment becomes SUCCEEDED and its orders PAID (the balance
 * fast path, balance-payment.ts, does the same common case in fewer statements). Whatever reported
 * the outcome (provider callback, poll, balance payment), `settlePayment` runs once per payment,
 * in the caller's single transaction, as named steps over one typed draft. No step commits on its
 * own and none is compensated: a failure rolls the whole settlement back.
 */

export interface SettlementDeps {
  ledger: LedgerService;
  orders: OrderService;
  refunds: RefundService;
  /** Platform fee in basis points of each order's total. */
  feeBps: number;
}

/** An order the payment covers, with its share of the payment. */
interface CoveredOrder {
  order_id: string;
  amount: string;
  merchant_id: string;
  status: OrderStatus;
}

/** What the settlement of a checkout payment has found and decided so far; each step adds to it. */
interface SettlementDraft {
  /** The payment, locked, not settled before. */
  payment: PaymentRow;
  /** Paid after the checkout's window closed: its orders are cancelled and the money returned. */
  late: boolean;
  covered: CoveredOrder[];
  /** The orders that became PAID. */
  paid: CoveredOrder[];
  /** The orders that could not be paid any more (cancelled, expired, stock gone): their share goes back. */
  unpaid: CoveredOrder[];
}

/**
 * A payment succeeded: in one transaction, its orders that can still be paid become PAID, their
 * reserved stock becomes sold (DEDUCT_ON_PAYMENT stock is taken now), the ledger records the
 * sale, and the share of orders that cannot be paid any more (cancelled, expired, stock gone) is
 * refunded. Runs once per payment: the payment row is locked and must not be settled already.
 * `paidAt` is when the provider took the money: paid after the window closed, the orders are
 * cancelled and the money returned, even if the expiry job has not run yet.
 */
export async function settlePayment(
  deps: SettlementDeps,
  tx: EntityManager,
  paymentId: string,
  paidAt = new Date(),
): Promise<PaymentRow> {
  const payment = (await lockPayment(tx, paymentId))!;
  if (!paymentLifecycle.can(payment.status, PaymentStatus.SUCCEEDED)) return payment;
  if (payment.purpose === 'TOP_UP') return settleTopUp(deps, tx, payment);

  const draft = await readCoveredOrders(tx, payment, paidAt);
  await payOrCancelEach(deps, tx, draft);
  await convertPaidReservations(tx, draft);
  await markSucceeded(tx, draft.payment);
  await postPurchase(deps, tx, draft);
  await refundUnpaidShares(deps, tx, draft);
  const [row] = await sqlAll<PaymentRow>(tx, 'select * from payment where id = $1', [paymentId]);
  return row;
}

/** A top-up succeeded: the ledger credits the user's balance, and the payment is settled. */
export async function settleTopUp(
  deps: SettlementDeps,
  tx: EntityManager,
  payment: PaymentRow,
): Promise<PaymentRow> {
  await deps.ledger.topUp(tx, String(payment.user_id), Number(payment.amount), `payment:${payment.id}`);
  return (await markSucceeded(tx, payment))!;
}

/** Step 1: the checkout (locked: the same lock order as cancellation, checkout then its orders) and the orders the payment covers. */
async function readCoveredOrders(
  tx: EntityManager,
  payment: PaymentRow,
  paidAt: Date,
): Promise<SettlementDraft> {
  const [checkout] = await sqlAll<{ payment_deadline: Date }>(
    tx,
    'select payment_deadline from checkout where id = $1 for update',
    [payment.checkout_id],
  );
  const covered = await sqlAll<CoveredOrder>(
    tx,
    'select po.order_id, po.amount, o.merchant_id, o.status from payment_order po join shop_order o on o.id = po.order_id where po.payment_id = $1 order by po.order_id',
    [payment.id],
  );
  const late = paidAt.getTime() > new Date(checkout.payment_deadline).getTime();
  return { payment, late, covered, paid: [], unpaid: [] };
}

/**
 * Step 2: each covered order becomes PAID, or is cancelled (paid too late, or its DEDUCT_ON_PAYMENT
 * stock ran out), or was beyond paying already (cancelled, paid by another payment: it takes no stock).
 */
async function payOrCancelEach(
  deps: SettlementDeps,
  tx: EntityManager,
  draft: SettlementDraft,
): Promise<void> {
  for (const o of draft.covered) {
    if (o.status !== OrderStatus.PENDING_PAYMENT) {
      draft.unpaid.push(o);
      continue;
    }
    if (draft.late) {
      await deps.orders.cancelInTransaction(tx, o.order_id, 'payment window expired');
      draft.unpaid.push(o);
      continue;
    }
    if (!(await takeStockOnPayment(tx, o.order_id))) {
      await deps.orders.cancelInTransaction(tx, o.order_id, 'stock ran out before payment');
      draft.unpaid.push(o);
      continue;
    }
    const moved = await deps.orders.transition(tx, o.order_id, OrderStatus.PAID);
    (moved instanceof OrderStateError ? draft.unpaid : draft.paid).push(o);
  }
}

/** Step 3: the paid orders' reservations become sold stock. */
async function convertPaidReservations(tx: EntityManager, draft: SettlementDraft): Promise<void> {
  if (draft.paid.length === 0) return;
  await convertReservations(
    tx,
    draft.paid.map((o) => o.order_id),
  );
}

/** Step 4: the payment is SUCCEEDED (whatever became of its orders: the money was taken). */
async function markSucceeded(tx: EntityManager, payment: PaymentRow): Promise<PaymentRow | undefined> {
  const [row] = await sqlAll<PaymentRow>(
    tx,
    `update payment set status = 'SUCCEEDED', settled_at = now(), updated_at = now() where id = $1 returning *`,
    [payment.id],
  );
  return row;
}

/** Step 5: the ledger records the sale of the paid orders: the buyer pays, each merchant's escrow and the platform fee receive. */
async function postPurchase(deps: SettlementDeps, tx: EntityManager, draft: SettlementDraft): Promise<void> {
  if (draft.paid.length === 0) return;
  const { payment } = draft;
  const input = {
    buyerId: String(payment.user_id),
    reference: `payment:${payment.id}`,
    parts: partsWithFee(
      draft.paid.map((o) => ({
        merchantId: String(o.merchant_id),
        amount: Number(o.amount),
        reference: `order:${o.order_id}`,
      })),
      deps.feeBps,
    ),
  };
  if (payment.method === PaymentMethod.BALANCE) await deps.ledger.purchaseWithBalance(tx, input);
  else await deps.ledger.purchaseWithCard(tx, input);
}

/** Step 6: no money is kept for an order that cannot be paid: its share goes back at once. */
async function refundUnpaidShares(
  deps: SettlementDeps,
  tx: EntityManager,
  draft: SettlementDraft,
): Promise<void> {
  for (const o of draft.unpaid) {
    if (Number(o.amount) > 0)
      await deps.refunds.createUnpaid(tx, draft.payment, o.order_id, Number(o.amount));
  }
}
