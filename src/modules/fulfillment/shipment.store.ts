import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { recordOrderEvent } from '../events/order-events';
import { OrderEventKind } from '../order/order.types';
import { ShipmentType } from './fulfillment.types';
import { ShipmentStatus } from './shipment.lifecycle';

export type ShipmentKind = 'ORDER' | 'RETURN' | 'EXCHANGE';

export interface ShipmentRow {
  id: string;
  order_id: string;
  buyer_id: string;
  merchant_id: string;
  kind: ShipmentKind;
  after_sale_id: string | null;
  carrier: string;
  tracking_number: string;
  status: ShipmentStatus;
  status_at: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface TrackingEventRow {
  id: string;
  shipment_id: string;
  event_id: string;
  status: ShipmentStatus;
  location: string | null;
  description: string | null;
  occurred_at: Date;
}

/**
 * Creates a shipment of an order (the order's parcel, a return or an exchange) and records a
 * SHIPMENT_UPDATED event, in the caller's transaction.
 */
export async function insertShipment(
  tx: EntityManager,
  s: {
    orderId: string;
    kind: ShipmentKind;
    carrier: string;
    trackingNumber: string;
    afterSaleId?: string | null;
  },
): Promise<ShipmentRow> {
  await assertTrackingFree(tx, s.carrier, s.trackingNumber);
  const [row] = await sqlAll<ShipmentRow>(
    tx,
    `insert into shipment (order_id, buyer_id, merchant_id, kind, after_sale_id, carrier, tracking_number)
     select id, buyer_id, merchant_id, $2, $3, $4, $5 from shop_order where id = $1 returning *`,
    [s.orderId, s.kind, s.afterSaleId ?? null, s.carrier, s.trackingNumber],
  );
  await recordOrderEvent(tx, {
    orderId: s.orderId,
    type: OrderEventKind.SHIPMENT_UPDATED,
    shipmentId: row.id,
    afterSaleId: s.afterSaleId ?? null,
  });
  return row;
}

export const toShipment = (r: ShipmentRow): ShipmentType =>
  Object.assign(new ShipmentType(), {
    id: String(r.id),
    carrier: r.carrier,
    trackingNumber: r.tracking_number,
    status: r.status,
    version: r.version,
    orderId: String(r.order_id),
  });

/**
 * A tracking number names one travelling parcel per carrier (migration ..._tracking_unique): another
 * active shipment or return with it is TRACKING_NUMBER_IN_USE, rolled back with the transaction.
 */
export async function assertTrackingFree(
  tx: EntityManager,
  carrier: string,
  trackingNumber: string,
  exceptShipmentId?: string,
): Promise<void> {
  const [taken] = await sqlAll(
    tx,
    `select 1 from shipment where carrier = $1 and tracking_number = $2 and status <> 'DELIVERED'
       and ($3::bigint is null or id <> $3::bigint) limit 1`,
    [carrier, trackingNumber, exceptShipmentId ?? null],
  );
  if (taken) {
    throw new Rollback(
      UserError.of(
        ErrorCode.TRACKING_NUMBER_IN_USE,
        'This tracking number is already on another active shipment or return with this carrier',
        'trackingNumber',
      ),
    );
  }
}
