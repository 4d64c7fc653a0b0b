import { registerEnumType } from 'type-graphql';
import { OrderEventKind } from '../order/order.types';

/** What an endpoint subscribes to. Each order event falls under exactly one topic. */
export enum WebhookTopic {
  ORDER_CREATED = 'ORDER_CREATED',
  ORDER_STATUS_CHANGED = 'ORDER_STATUS_CHANGED',
  SHIPMENT_UPDATED = 'SHIPMENT_UPDATED',
  AFTER_SALE_UPDATED = 'AFTER_SALE_UPDATED',
}
registerEnumType(WebhookTopic, {
  name: 'WebhookTopic',
  description: 'Kinds of order events a webhook endpoint receives.',
  valuesConfig: {
    ORDER_CREATED: { description: 'A checkout created the order (type `order.created`).' },
    ORDER_STATUS_CHANGED: { description: 'The order moved to another status (type `order.status_changed`).' },
    SHIPMENT_UPDATED: {
      description: 'A shipment of the order was created or changed (type `shipment.updated`).',
    },
    AFTER_SALE_UPDATED: {
      description: 'An after-sale of the order was requested or moved (type `after_sale.updated`).',
    },
  },
});

/** The payload's `type`: Standard Webhooks names events `<resource>.<action>`. */
export const TOPIC_TYPE: Record<WebhookTopic, string> = {
  ORDER_CREATED: 'order.created',
  ORDER_STATUS_CHANGED: 'order.status_changed',
  SHIPMENT_UPDATED: 'shipment.updated',
  AFTER_SALE_UPDATED: 'after_sale.updated',
};

/**
 * The topic of an order event, as a SQL expression over an `order_event` row aliased `e` (the
 * dispatcher derives deliveries in SQL). An order's first event is its creation; other kinds of
 * events (added later) belong to no topic and are not delivered.
 */
export const TOPIC_OF_EVENT_SQL = `case
  when e.type = '${OrderEventKind.STATUS_CHANGED}' and e.seq = 1 then '${WebhookTopic.ORDER_CREATED}'
  when e.type = '${OrderEventKind.STATUS_CHANGED}' then '${WebhookTopic.ORDER_STATUS_CHANGED}'
  when e.type = '${OrderEventKind.SHIPMENT_UPDATED}' then '${WebhookTopic.SHIPMENT_UPDATED}'
  when e.type = '${OrderEventKind.AFTER_SALE_UPDATED}' then '${WebhookTopic.AFTER_SALE_UPDATED}'
end`;

export const isTopic = (t: string): t is WebhookTopic => t in TOPIC_TYPE;
