import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import type { Principal } from '../../shared/auth';
import { notFound } from '../../shared/errors';
import type { UserError } from '../../shared/error-result';
import { isId } from '../../shared/ids';
import type { Jobs } from '../../shared/jobs';
import { recordOrderEvent } from '../events/order-events';
import type { LedgerService } from '../ledger/ledger.service';
import type { RefundService } from '../payment/refund.service';
import { OrderStateError } from '../order/order.errors';
import type { Order, OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import { OrderEventKind } from '../order/order.types';
import { OrderCompletion } from './completion.service';
import { checkVersion, shippingText } from './fulfillment.inputs';
import { VersionConflictError } from './fulfillment.types';
import { assertTrackingFree, insertShipment, type ShipmentRow } from './shipment.store';
import {
  CarrierTracking,
  type CarrierEvent,
  type CarrierEventOutcome,
  type DeliveredListener,
} from './tracking.service';

export interface FulfillmentSettings {
  /** A delivered order completes this long after delivery unless its buyer confirms first. */
  autoCompleteSeconds: number;
  /** Loyalty points per whole currency unit an order kept, awarded when it completes (0: none). */
  pointsPerCurrencyUnit: number;
}

type Merchant = Principal & { merchantId: string };

/**
 * Fulfillment: the merchant ships an order and corrects its tracking number; carriers report
 * progress through the signed logistics webhook (CarrierTracking); delivered orders complete when
 * the buyer confirms or some days later (OrderCompletion), which releases the merchant's escrow.
 */
export class FulfillmentService {
  private readonly tracking: CarrierTracking;
  private readonly completion: OrderCompletion;

  constructor(
    private readonly orders: OrderService,
    ledger: LedgerService,
    refunds: RefundService,
    jobs: Jobs,
    settings: FulfillmentSettings,
    log: Logger,
  ) {
    this.completion = new OrderCompletion(orders, ledger, refunds, jobs, settings, log);
    this.tracking = new CarrierTracking(orders, this.completion);
  }

  /**
   * orderShip: creates the order's shipment and moves the order PAID → SHIPPED, in one transaction.
   * The same call again (same carrier and tracking number) returns the shipment it made, so a
   * client may retry; any other call on a shipped order is an OrderStateError. The order row is
   * locked first, so two concurrent identical calls both see the one shipment.
   */
  async ship(
    em: EntityManager,
    p: Merchant,
    orderId: string,
    carrier: string,
    trackingNumber: string,
  ): Promise<ShipmentRow | OrderStateError | UserError> {
    const c = shippingText(carrier, 'carrier');
    const t = shippingText(trackingNumber, 'trackingNumber');
    const missing = () => notFound('Order', orderId.slice(0, 40));
    if (!isId(orderId)) throw missing();
    const r = await inTransaction<ShipmentRow | null, OrderStateError | UserError>(em, async (tx) => {
      const [order] = await sqlAll<{ merchant_id: string; status: OrderStatus }>(
        tx,
        'select merchant_id, status from shop_order where id = $1 for update',
        [orderId],
      );
      if (!order || String(order.merchant_id) !== p.merchantId) return null;
      const [existing] = await sqlAll<ShipmentRow>(
        tx,
        `select * from shipment where order_id = $1 and kind = 'ORDER'`,
        [orderId],
      );
      if (existing) {
        if (existing.carrier === c && existing.tracking_number === t) return existing;
        throw new Rollback(OrderStateError.of(order.status, OrderStatus.SHIPPED));
      }
      const moved = await this.orders.transition(tx, orderId, OrderStatus.SHIPPED);
      if (moved instanceof OrderStateError) throw new Rollback(moved);
      return insertShipment(tx, { orderId, kind: 'ORDER', carrier: c, trackingNumber: t });
    });
    if (r === null) throw missing();
    return r;
  }

  /**
   * shipmentTrackingUpdate: one conditional UPDATE on (id, version), so of two corrections made
   * from the same version exactly one wins, and a retried old correction cannot overwrite a newer
   * one (ABA): it names a version that has passed and gets VersionConflictError. Setting the
   * number it already has is not a change (no new version, no event).
   */
  async updateTracking(
    em: EntityManager,
    p: Merchant,
    shipmentId: string,
    trackingNumber: string,
    expectedVersion: number,
  ): Promise<ShipmentRow | VersionConflictError | UserError> {
    const t = shippingText(trackingNumber, 'trackingNumber');
    checkVersion(expectedVersion);
    const missing = () => notFound('Shipment', shipmentId.slice(0, 40));
    if (!isId(shipmentId)) throw missing();
    const r = await inTransaction<ShipmentRow | null, VersionConflictError | UserError>(em, async (tx) => {
      const [s] = await sqlAll<{ order_id: string; merchant_id: string }>(
        tx,
        'select order_id, merchant_id from shipment where id = $1',
        [shipmentId],
      );
      if (!s || String(s.merchant_id) !== p.merchantId) return null;
      // The order row first, then the shipment: the order in which every change of an order locks them.
      await sqlAll(tx, 'select 1 from shop_order where id = $1 for update', [s.order_id]);
      const [mine] = await sqlAll<{ carrier: string }>(tx, 'select carrier from shipment where id = $1', [
        shipmentId,
      ]);
      await assertTrackingFree(tx, mine.carrier, t, shipmentId);
      const [row] = await sqlAll<ShipmentRow>(
        tx,
        `update shipment set tracking_number = $2, version = version + 1, updated_at = now()
          where id = $1 and merchant_id = $4 and version = $3 and tracking_number <> $2 returning *`,
        [shipmentId, t, expectedVersion, p.merchantId],
      );
      if (row) {
        await recordOrderEvent(tx, {
          orderId: row.order_id,
          type: OrderEventKind.SHIPMENT_UPDATED,
          shipmentId: row.id,
          afterSaleId: row.after_sale_id,
        });
        return row;
      }
      const [current] = await sqlAll<ShipmentRow>(tx, 'select * from shipment where id = $1', [shipmentId]);
      if (current.version === expectedVersion && current.tracking_number === t) return current;
      throw new Rollback(VersionConflictError.of(current.version));
    });
    if (r === null) throw missing();
    return r;
  }

  /** A carrier's event from the logistics webhook. */
  handleCarrierEvent(em: EntityManager, event: CarrierEvent): Promise<CarrierEventOutcome> {
    return this.tracking.handle(em, event);
  }

  /**
   * Called in the transaction in which a carrier event moved a shipment of any kind (ORDER, RETURN,
   * EXCHANGE) to DELIVERED, after the order itself was updated.
   */
  onShipmentDelivered(listener: DeliveredListener): void {
    this.tracking.onDelivered(listener);
  }

  /** orderConfirmReceipt: the buyer (or an admin) completes a delivered order. */
  confirmReceipt(
    em: EntityManager,
    p: Principal,
    orderId: string,
  ): Promise<Order | OrderStateError | UserError> {
    return this.completion.confirm(em, p, orderId);
  }

  /** The delayed job scheduled at delivery. */
  completeDue(em: EntityManager, orderId: string): Promise<boolean> {
    return this.completion.completeDue(em, orderId);
  }

  /** The backstop sweep: every delivered order past its auto-completion time. */
  completeOverdue(em: EntityManager, limit?: number): Promise<number> {
    return this.completion.completeOverdue(em, limit);
  }
}
