import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll, sqlPrepared } from '../../db/sql';
import { Rollback } from '../../db/transaction';
import { claimKeyFrom } from '../../shared/idempotency';
import { insertOrderEventsFrom } from '../events/order-events.sql';
import { markEventsWritten } from '../events/outbox-signal';
import { convertReservationsCtes } from '../inventory/inventory.store';
import { payOrdersFrom } from '../order/order.store';
import { partsWithFee, type LedgerService } from '../ledger/ledger.service';
import { PAYMENT_COLUMNS, type PaymentRow } from './payment.store';

/**
 * paymentStart(BALANCE) in the common case, in three statements inside one transaction:
 *
 * 1. CLAIM_AND_READ_SQL claims the idempotency key, locks the checkout and reads its orders;
 * 2. SETTLE_SQL writes the payment (settled), its orders' shares, moves the orders to PAID with
 *    their events, and turns their reservations into sold stock;
 * 3. the ledger's one-statement posting (the buyer's balance, guarded; the merchant's escrow and
 *    the platform's fee on the stripes the orders hash to, so concurrent sales do not queue on
 *    one row).
 *
 * Anything off the common path (a repeated key, an order that cannot be paid any more, stock
 * taken only on payment, a closed window, someone else's checkout) rolls back and answers
 * `GENERAL_PATH`: the caller runs the general settlement (PaymentService), which has every rule
 * and error. Both statements are shared with the benchmark's raw-driver baseline.
 */

export const GENERAL_PATH = 'general' as const;

/** $1 buyer, $2 key, $3 request hash, $4 checkout. One row when the checkout exists (locked). */
export const CLAIM_AND_READ_SQL = `with claim as (
   ${claimKeyFrom({ callerId: '$1', scope: 'payment', key: '$2', requestHash: '$3', resultRefSql: 'next_order_id($1)::text' })}
 )
 select (select result_ref from claim) as payment_id, c.buyer_id, c.payment_deadline,
        coalesce((select json_agg(json_build_object(
                    'id', o.id::text, 'total', o.total, 'status', o.status, 'merchantId', o.merchant_id::text,
                    'deductOnPayment', exists (select 1 from order_line ol
                                                where ol.order_id = o.id and ol.stock_policy = 'DEDUCT_ON_PAYMENT'))
                    order by o.id)
                    from shop_order o where o.checkout_id = c.id), '[]') as orders
   from checkout c where c.id = $4 for update of c`;

/**
 * $1 payment id, $2 buyer, $3 checkout, $4 amount, $5 return url, $6 order ids, $7 their totals.
 * Each order moves to PAID only from PENDING_PAYMENT (a cancellation that won leaves it), so
 * `paid` says whether every order was paid; the caller rolls back when not. The payment's rows are
 * written here; the orders', the events' and the stock's parts come from their owners' stores.
 */
export const SETTLE_SQL = `with pay as (
   insert into payment (id, user_id, checkout_id, purpose, method, amount, return_url, status, settled_at)
   values ($1, $2, $3, 'CHECKOUT', 'BALANCE', $4, $5, 'SUCCEEDED', now())
   returning *
 ), shares as (
   insert into payment_order (payment_id, order_id, amount)
   select $1, o, a from unnest($6::bigint[], $7::bigint[]) as u(o, a)
 ), paid as (
   ${payOrdersFrom('$6::bigint[]')}
 ), events as (
   ${insertOrderEventsFrom(`select id, buyer_id, merchant_id, event_seq, 'STATUS_CHANGED', 'PAID' from paid`)}
 ), ${convertReservationsCtes('select id from paid')}
 select ${PAYMENT_COLUMNS.map((c) => `pay.${c}`).join(', ')}, (select count(*) from paid)::int as paid from pay`;

interface OrderSeen {
  id: string;
  total: number;
  status: string;
  merchantId: string;
  deductOnPayment: boolean;
}

export interface BalancePaymentRequest {
  buyerId: string;
  checkoutId: string;
  key: string;
  requestHash: string;
  returnUrl: string | null;
  feeBps: number;
}

/**
 * The common case of a balance payment, in the caller's transaction; throws
 * `Rollback(GENERAL_PATH)` when the request needs the general path (nothing it wrote survives).
 * InsufficientFunds from the ledger propagates as from the general path.
 */
export async function payByBalance(
  tx: EntityManager,
  ledger: LedgerService,
  req: BalancePaymentRequest,
): Promise<PaymentRow> {
  const general = () => new Rollback(GENERAL_PATH);
  const [seen] = /^\d{1,19}$/.test(req.checkoutId)
    ? await sqlAll<{
        payment_id: string | null;
        buyer_id: string;
        payment_deadline: Date;
        orders: OrderSeen[];
      }>(tx, CLAIM_AND_READ_SQL, [req.buyerId, req.key, req.requestHash, req.checkoutId])
    : [];
  if (!seen?.payment_id || String(seen.buyer_id) !== req.buyerId) throw general();
  const orders = seen.orders;
  if (
    orders.length === 0 ||
    orders.some((o) => o.status !== 'PENDING_PAYMENT' || o.deductOnPayment || !(Number(o.total) > 0)) ||
    new Date(seen.payment_deadline).getTime() <= Date.now()
  )
    throw general();
  const amount = orders.reduce((s, o) => s + Number(o.total), 0);

  markEventsWritten(); // the orders' PAID events
  const [payment] = await sqlPrepared<PaymentRow & { paid: number }>(tx, SETTLE_SQL, [
    seen.payment_id,
    req.buyerId,
    req.checkoutId,
    amount,
    req.returnUrl,
    orders.map((o) => o.id),
    orders.map((o) => Number(o.total)),
  ]);
  if (payment.paid !== orders.length) throw general();

  await ledger.purchaseWithBalance(tx, {
    buyerId: req.buyerId,
    reference: `payment:${payment.id}`,
    parts: partsWithFee(
      orders.map((o) => ({ merchantId: o.merchantId, amount: Number(o.total), reference: `order:${o.id}` })),
      req.feeBps,
    ),
  });
  const { paid: _, ...row } = payment;
  return row as PaymentRow;
}
