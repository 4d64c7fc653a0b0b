import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError, isErrorResult } from '../../shared/error-result';
import { digest, withIdempotency } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import type { CardProvider } from './provider/card-provider';
import { AccountKind, refundFeeShare, splitFee, type LedgerService } from '../ledger/ledger.service';
import type { OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import { orderArchived } from '../order/order.errors';
import type { PaymentRow } from './payment.store';
import { PaymentMethod } from './payment.lifecycle';
import { addRefundToSales } from '../sales/sales.rollup';
import { adjustPointsForRefund } from '../loyalty/loyalty';

export interface RefundRow {
  id: string;
  payment_id: string;
  order_id: string | null;
  amount: string;
  reason: string;
  status: 'PENDING' | 'SUCCEEDED' | 'NEEDS_ATTENTION';
  provider_ref: string | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
}

export const REFUND_JOB = 'refund.execute';
/** After this many failed provider calls a refund waits for a person (status NEEDS_ATTENTION). */
export const MAX_REFUND_ATTEMPTS = 8;

/**
 * Refunds, full or partial, through the original method: balance refunds post at once; card
 * refunds post at once in the ledger and are paid out by a job that calls the provider with the
 * refund's id as idempotency key until it succeeds (or needs a person). Refunded never exceeds
 * paid: the payment row is locked while the amount is checked, and a CHECK holds it in the database.
 */
export class RefundService {
  constructor(
    private readonly feeBps: number,
    private readonly ledger: LedgerService,
    private readonly orders: OrderService,
    private readonly provider: CardProvider,
    private readonly jobs: Jobs,
    private readonly log: Logger,
  ) {}

  /**
   * Refunds part or all of what an order cost. Used by after-sale and by admins; idempotent by
   * `key` (per caller). Fully refunded orders become REFUNDED.
   */
  async refundOrder(
    em: EntityManager,
    callerId: string,
    orderId: string,
    amount: number,
    reason: string,
    key: string,
  ): Promise<RefundRow | UserError> {
    return inTransaction<RefundRow, RefundRow | UserError>(em, async (tx) => {
      const r = await this.refundOrderInTransaction(tx, callerId, orderId, amount, reason, key);
      if (isErrorResult(r)) throw new Rollback(r);
      return r;
    });
  }

  /**
   * refundOrder inside the caller's transaction (after-sale: the approval or receipt and its refund
   * commit together). A UserError means nothing was refunded, but the caller must roll back: the
   * idempotency key may already be written. A key used before for another refund throws the
   * Rollback of IDEMPOTENCY_KEY_REUSED itself (withIdempotency).
   */
  async refundOrderInTransaction(
    tx: EntityManager,
    callerId: string,
    orderId: string,
    amount: number,
    reason: string,
    key: string,
  ): Promise<RefundRow | UserError> {
    return withIdempotency<RefundRow | UserError, RefundRow>(
      tx,
      {
        callerId,
        scope: 'refund',
        key,
        requestHash: digest({ orderId, amount, reason }),
        subject: 'a different refund',
        storedSql: 'select * from refund where id = k.result_ref::bigint',
      },
      {
        run: (refundId) => this.refundOnce(tx, refundId, orderId, amount, reason),
        replay: (_id, stored) => stored!,
      },
    );
  }

  /** The refund itself, the first time its key is used. */
  private async refundOnce(
    tx: EntityManager,
    refundId: string,
    orderId: string,
    amount: number,
    reason: string,
  ): Promise<RefundRow | UserError> {
    // The order row first (as completion and after-sale do): a completion that released the escrow
    // has committed before the status below is read, so the refund draws from the right account.
    // The payment then with FOR NO KEY UPDATE, as PaymentService locks it (provider events and
    // refunds inserted meanwhile do not conflict with it).
    const [hot] = await sqlAll(tx, 'select id from shop_order where id = $1 for update', [orderId]);
    // A late refund of an archived order is refused (docs/archive.md): its money stays as it was.
    if (!hot && (await sqlAll(tx, 'select 1 from archive.shop_order where id = $1', [orderId])).length)
      return orderArchived(orderId);
    const [p] = await sqlAll<
      PaymentRow & {
        order_amount: string;
        merchant_id: string;
        order_status: OrderStatus;
        buyer_id: string;
        points_used: number;
      }
    >(
      tx,
      `select p.*, po.amount as order_amount, o.merchant_id, o.status as order_status, o.buyer_id, o.points_used
         from payment p join payment_order po on po.payment_id = p.id join shop_order o on o.id = po.order_id
        where po.order_id = $1 and p.status in ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')
        order by p.settled_at limit 1
        for no key update of p`,
      [orderId],
    );
    const exceeds = (m: string) => UserError.of(ErrorCode.REFUND_EXCEEDS_PAID, m, 'amount');
    if (!p || p.order_status === OrderStatus.CANCELLED) return exceeds('Nothing was paid for this order');
    const [{ before }] = await sqlAll<{ before: number }>(
      tx,
      'select coalesce(sum(amount), 0)::bigint as before from refund where order_id = $1 and payment_id = $2',
      [orderId, p.id],
    );
    const paid = Number(p.order_amount);
    if (Number(before) + amount > paid)
      return exceeds(
        `At most ${((paid - Number(before)) / 100).toFixed(2)} can still be refunded for this order`,
      );

    const refund = await this.insert(tx, p, orderId, amount, reason, refundId);
    const fee = refundFeeShare(paid, splitFee(paid, this.feeBps).fee, Number(before), amount);
    const input = {
      reference: `refund:${refund.id}`,
      buyerId: String(p.user_id),
      merchantId: String(p.merchant_id),
      amount,
      fee: fee.fee,
      // After completion the sale left escrow for the merchant's balance.
      from: p.order_status === OrderStatus.COMPLETED ? AccountKind.AVAILABLE : AccountKind.ESCROW,
      entryReference: `order:${orderId}`,
    } as const;
    if (p.method === PaymentMethod.BALANCE) await this.ledger.refundToBalance(tx, input);
    else await this.ledger.refundToCard(tx, input);
    await addRefundToSales(tx, String(p.merchant_id), orderId, amount);
    // Points follow the money: earned ones taken back, spent ones given back (docs/loyalty.md).
    await adjustPointsForRefund(tx, {
      buyerId: String(p.buyer_id),
      orderId,
      refundId: String(refund.id),
      paid,
      refundedBefore: Number(before),
      amount,
      pointsUsed: p.points_used,
    });
    if (Number(before) + amount === paid) await this.orders.transition(tx, orderId, OrderStatus.REFUNDED);
    return refund;
  }

  /** What can still be refunded on an order: its share of the settled payment less its refunds (0 when unpaid). */
  async refundableInTransaction(tx: EntityManager, orderId: string): Promise<number> {
    const [row] = await sqlAll<{ left: string }>(
      tx,
      `select po.amount - coalesce((select sum(r.amount) from refund r where r.order_id = po.order_id and r.payment_id = p.id), 0) as left
         from payment p join payment_order po on po.payment_id = p.id
        where po.order_id = $1 and p.status in ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')
        order by p.settled_at limit 1`,
      [orderId],
    );
    return row ? Number(row.left) : 0;
  }

  /**
   * The share of an order that could not be paid any more (cancelled, window closed, stock gone)
   * when its payment succeeded. That money never entered the books, so only the provider pays it
   * back (balance payments never took it).
   */
  async createUnpaid(tx: EntityManager, payment: PaymentRow, orderId: string, amount: number): Promise<void> {
    const [{ id }] = await sqlAll<{ id: string }>(tx, 'select next_order_id($1)::text as id', [
      payment.user_id,
    ]);
    await this.insert(tx, payment, orderId, amount, 'the order could not be paid any more', id);
  }

  private async insert(
    tx: EntityManager,
    p: PaymentRow,
    orderId: string | null,
    amount: number,
    reason: string,
    id: string,
  ): Promise<RefundRow> {
    const balance = p.method === PaymentMethod.BALANCE;
    const [refund] = await sqlAll<RefundRow>(
      tx,
      `insert into refund (id, payment_id, order_id, amount, reason, status) values ($1, $2, $3, $4, $5, $6) returning *`,
      [id, p.id, orderId, amount, reason, balance ? 'SUCCEEDED' : 'PENDING'],
    );
    await sqlAll(
      tx,
      `update payment set refunded = refunded + $2, updated_at = now(),
              status = case when refunded + $2 = amount then 'REFUNDED' else 'PARTIALLY_REFUNDED' end
        where id = $1`,
      [p.id, amount],
    );
    if (!balance) await this.jobs.sendMany([{ name: REFUND_JOB, data: { refundId: refund.id } }], { em: tx });
    return refund;
  }

  /** The refund job: pays a card refund out at the provider; idempotent by the refund's id. */
  async execute(em: EntityManager, refundId: string): Promise<void> {
    const [r] = await sqlAll<RefundRow & { provider_payment: string | null }>(
      em,
      `select r.*, p.provider_ref as provider_payment from refund r join payment p on p.id = r.payment_id where r.id = $1`,
      [refundId],
    );
    if (!r || r.status !== 'PENDING') return;
    try {
      if (!r.provider_payment) throw new Error('the payment has no provider reference');
      const done = await this.provider.refund(
        r.provider_payment,
        { amount: Number(r.amount) },
        { idempotencyKey: `refund-${r.id}` },
      );
      await sqlAll(
        em,
        `update refund set status = 'SUCCEEDED', provider_ref = $2, attempts = attempts + 1, updated_at = now() where id = $1 and status = 'PENDING'`,
        [r.id, done.id],
      );
    } catch (err) {
      const [after] = await sqlAll<{ attempts: number }>(
        em,
        `update refund set attempts = attempts + 1, last_error = $2,
                status = case when attempts + 1 >= $3 then 'NEEDS_ATTENTION' else status end, updated_at = now()
          where id = $1 returning attempts`,
        [r.id, String(err).slice(0, 500), MAX_REFUND_ATTEMPTS],
      );
      if (after.attempts >= MAX_REFUND_ATTEMPTS) {
        this.log.error({ err, refundId }, 'refund failed repeatedly and needs a person');
        return;
      }
      throw err; // the job system retries with backoff
    }
  }

  /** The provider's refund.succeeded callback. */
  async confirm(
    tx: EntityManager,
    paymentId: string,
    providerRefundId: string,
    amount: number,
  ): Promise<boolean> {
    // Bound to its payment and amount (issue 12): a signed event naming another payment's refund,
    // or another amount, confirms nothing. True when the refund is (now) confirmed.
    const [r] = await sqlAll<{ n: number }>(
      tx,
      `with target as (
         select id, status from refund where provider_ref = $1 and payment_id = $2 and amount = $3
       ), confirmed as (
         update refund set status = 'SUCCEEDED', updated_at = now()
          where id in (select id from target where status <> 'SUCCEEDED') returning id
       )
       select count(*)::int as n from target`,
      [providerRefundId, paymentId, amount],
    );
    return r.n > 0;
  }

  /** Retries refunds that are still pending (the job's own retries are the fast path). */
  async retryPending(em: EntityManager): Promise<void> {
    const open = await sqlAll<{ id: string }>(
      em,
      `select id from refund where status = 'PENDING' and updated_at < now() - interval '5 minutes' order by created_at limit 100`,
    );
    for (const r of open) await this.execute(em, String(r.id)).catch(() => undefined);
  }
}
