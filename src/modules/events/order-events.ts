import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { takeNextEventSeq } from '../order/order.store';
import { OrderEventKind } from '../order/order.types';
import { markEventsWritten } from './outbox-signal';

/** An order event as stored in the outbox (`order_event`). */
export interface OrderEventRow {
  id: string;
  order_id: string;
  buyer_id: string;
  merchant_id: string;
  /** 1, 2, 3… per order: the order's events in the order they committed. */
  seq: number;
  /** The relay's publication position; null until the relay has seen the event. */
  pos: string | null;
  type: OrderEventKind;
  /** The order's status after the event. */
  status: string;
  shipment_id: string | null;
  after_sale_id: string | null;
  /** SHIPMENT_UPDATED: the shipment as it was when the event was written (null on older events). */
  payload?: EventPayload | null;
  created_at: Date;
}

/** A shipment row as JSON (to_jsonb of the row), and how many tracking events it had then. */
export interface ShipmentSnapshot {
  shipment: Record<string, any>;
  /** Tracking events with an id up to this one existed when the event was written. */
  trackingUpTo: string | number;
}

export type EventPayload = ShipmentSnapshot;

export interface OrderEventInput {
  orderId: string;
  type: OrderEventKind;
  shipmentId?: string | null;
  afterSaleId?: string | null;
}

/**
 * Writes an event of an order in the caller's transaction (the outbox). The order store takes the
 * order row's lock and the order's next event number, so the events of one order are numbered
 * in commit order whatever runs concurrently; the relay publishes them after the commit.
 * Order status changes go through OrderService.transition, which numbers its event the same way.
 */
export async function recordOrderEvent(tx: EntityManager, input: OrderEventInput): Promise<OrderEventRow> {
  const order = await takeNextEventSeq(tx, input.orderId);
  if (!order) throw new Error(`order ${input.orderId} does not exist`);
  return insertEvent(tx, { ...input, ...order });
}

/** Inserts an event whose number the caller took with `event_seq = event_seq + 1` on the order row. */
export async function insertEvent(
  tx: EntityManager,
  e: OrderEventInput & { buyerId: string; merchantId: string; status: string; seq: number },
): Promise<OrderEventRow> {
  markEventsWritten();
  // A shipment event keeps the shipment as it is now, in the same statement: a replay shows the
  // parcel as it was at this event, not as it is when the subscriber catches up.
  const [row] = await sqlAll<OrderEventRow>(
    tx,
    `insert into order_event (order_id, buyer_id, merchant_id, seq, type, status, shipment_id, after_sale_id, payload)
     values ($1, $2, $3, $4, $5, $6, $7, $8,
       case when $5 = 'SHIPMENT_UPDATED' then (
         select jsonb_build_object('shipment', to_jsonb(s), 'trackingUpTo',
                  (select coalesce(max(t.id), 0) from tracking_event t where t.shipment_id = s.id))
           from shipment s where s.id = $7::bigint) end)
     returning *`,
    [
      e.orderId,
      e.buyerId,
      e.merchantId,
      e.seq,
      e.type,
      e.status,
      e.shipmentId ?? null,
      e.afterSaleId ?? null,
    ],
  );
  return row;
}
