import type { UserError } from '../../shared/error-result';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { isAdmin, type Principal } from '../../shared/auth';
import { forbidden, notFound } from '../../shared/errors';
import type { Jobs } from '../../shared/jobs';
import type { LedgerService } from '../ledger/ledger.service';
import type { RefundService } from '../payment/refund.service';
import { OrderStateError } from '../order/order.errors';
import type { Order, OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import { earnPointsForOrder } from '../loyalty/loyalty';
import { escrowHeldForOrder } from './escrow';
import type { FulfillmentSettings } from './fulfillment.service';

/** The delayed job, scheduled when an order is delivered, that completes it `autoCompleteSeconds` later. */
export const AUTO_COMPLETE_JOB = 'order.auto-complete';

/**
 * Completing a delivered order: the buyer confirms receipt, or the delayed job (with a cron sweep
 * as backstop) completes it some days after delivery. Completion is one transaction: the order
 * moves DELIVERED → COMPLETED (a conditional UPDATE, so it happens once however many confirmations
 * and jobs race), what the ledger still holds in escrow for the order goes to the merchant's
 * available balance, and the buyer earns loyalty points.
 */
export class OrderCompletion {
  constructor(
    readonly orders: OrderService,
    private readonly ledger: LedgerService,
    private readonly refunds: RefundService,
    private readonly jobs: Jobs,
    private readonly settings: FulfillmentSettings,
    private readonly log: Logger,
  ) {}

  async confirm(
    em: EntityManager,
    p: Principal,
    orderId: string,
  ): Promise<Order | OrderStateError | UserError> {
    const order = await this.orders.find(em, p, orderId);
    if (!order) {
      const archived = await this.orders.refuseArchived(em, p, orderId);
      if (archived) return archived;
      throw notFound('Order', orderId.slice(0, 40));
    }
    if (order.buyerId !== p.userId && !isAdmin(p))
      throw forbidden('Only the buyer confirms receipt of an order');
    return inTransaction<Order, OrderStateError>(em, async (tx) => {
      const r = await this.completeInTransaction(tx, orderId);
      if (r instanceof OrderStateError) throw new Rollback(r);
      return r;
    });
  }

  /** Schedules the auto-completion of an order just delivered, in the delivering transaction. */
  async scheduleAutoComplete(tx: EntityManager, order: Order): Promise<void> {
    const deliveredAt = order.deliveredAt ? new Date(order.deliveredAt).getTime() : Date.now();
    const startAfter = new Date(deliveredAt + this.settings.autoCompleteSeconds * 1000);
    await this.jobs.sendMany([{ name: AUTO_COMPLETE_JOB, data: { orderId: order.id }, startAfter }], {
      em: tx,
    });
  }

  /**
   * The delayed job: completes the order when it is still DELIVERED and due. A job that runs early
   * (clocks of the node and the database differ) schedules itself again for the due time.
   */
  async completeDue(em: EntityManager, orderId: string): Promise<boolean> {
    const [o] = await sqlAll<{ status: OrderStatus; due: boolean; due_at: Date }>(
      em,
      `select status, delivered_at + make_interval(secs => $2) <= now() as due, delivered_at + make_interval(secs => $2) as due_at
         from shop_order where id = $1`,
      [orderId, this.settings.autoCompleteSeconds],
    );
    if (!o || o.status !== OrderStatus.DELIVERED) return false;
    if (!o.due) {
      await this.jobs.sendMany([{ name: AUTO_COMPLETE_JOB, data: { orderId }, startAfter: o.due_at }]);
      return false;
    }
    const r = await inTransaction(em, (tx) => this.completeInTransaction(tx, orderId));
    return !(r instanceof OrderStateError);
  }

  /** The backstop sweep: every delivered order past its time, whatever happened to its job. */
  async completeOverdue(em: EntityManager, limit = 500): Promise<number> {
    const due = await sqlAll<{ id: string }>(
      em,
      `select id from shop_order where status = 'DELIVERED' and delivered_at <= now() - make_interval(secs => $1)
        order by delivered_at limit $2`,
      [this.settings.autoCompleteSeconds, limit],
    );
    let completed = 0;
    for (const { id } of due) {
      try {
        const r = await inTransaction(em, (tx) => this.completeInTransaction(tx, String(id)));
        if (!(r instanceof OrderStateError)) completed++;
      } catch (err) {
        // One order that keeps failing must not hold up the others; the next sweep retries it.
        this.log.error({ err, orderId: id }, 'could not complete order');
      }
    }
    return completed;
  }

  /**
   * DELIVERED → COMPLETED, the escrow release and the points, in the caller's transaction. Locks
   * the order row (the conditional UPDATE), then its payments, the order in which after-sale
   * refunds lock them: a refund racing the completion either comes before it (from escrow, and the
   * release is smaller) or after it (from the merchant's available balance), never half of each.
   * The escrow is read after both locks, so it includes every refund committed before.
   */
  async completeInTransaction(tx: EntityManager, orderId: string): Promise<Order | OrderStateError> {
    const order = await this.orders.transition(tx, orderId, OrderStatus.COMPLETED);
    if (order instanceof OrderStateError) return order;
    const payments = await sqlAll<{ id: string }>(
      tx,
      `select p.id from payment p join payment_order po on po.payment_id = p.id
        where po.order_id = $1 and p.status in ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED') order by p.id for no key update of p`,
      [orderId],
    );
    const paymentIds = payments.map((p) => String(p.id));

    const held = await escrowHeldForOrder(tx, order.merchantId, orderId, paymentIds);
    if (held > 0) await this.ledger.releaseEscrow(tx, order.merchantId, held, `order:${orderId}`);

    // Points for what the buyer paid and kept (the part of the payment not refunded).
    const kept = await this.refunds.refundableInTransaction(tx, orderId);
    await earnPointsForOrder(tx, {
      buyerId: order.buyerId,
      orderId,
      keptMinor: kept,
      rate: this.settings.pointsPerCurrencyUnit,
    });
    return order;
  }
}
