import { TOPIC_TYPE } from './webhook.topics';
import type { ClaimedDelivery } from './webhook.store';

/**
 * The webhook-id header: one per (event, endpoint), the same on every retry and redelivery. Made
 * of the pair rather than the delivery row's id, so it stays the same even if the row were ever
 * derived again.
 */
export const messageIdOf = (eventId: string, endpointId: string): string => `msg_${eventId}_${endpointId}`;

/**
 * The body of a delivery: `{ type, timestamp, data }` (Standard Webhooks). `timestamp` is when the
 * event happened; `data` names the order and what changed, and carries the order's status after
 * the event. The body depends only on the event, so every attempt sends the same bytes.
 * Receivers that need more read the order through the API (its `history` has every event).
 */
export function payloadOf(d: ClaimedDelivery): string {
  return JSON.stringify({
    type: TOPIC_TYPE[d.topic],
    timestamp: new Date(d.occurred_at).toISOString(),
    data: {
      eventId: String(d.event_id),
      orderId: String(d.order_id),
      merchantId: String(d.merchant_id),
      sequence: Number(d.seq),
      status: d.status,
      shipmentId: d.shipment_id === null ? null : String(d.shipment_id),
      afterSaleId: d.after_sale_id === null ? null : String(d.after_sale_id),
    },
  });
}
