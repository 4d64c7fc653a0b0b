/**
 * What moves with an order into the `archive` schema, and how each table's rows are found from the
 * rows moved before it. The order matters only for `via`: a table is reached through a table listed
 * earlier. Payments (payment, payment_order, refund, provider_event) and the ledger stay hot: money
 * and its invariants never leave the tables the ledger checks.
 */
export interface ArchivedTable {
  /** The table in `public` and in `archive`. */
  name: string;
  /** How its rows of the batch are found: `<column> in (select <key> from <earlier CTE>)`. */
  via: { column: string; from: string; key: string } | null;
}

export const ARCHIVED_TABLES: readonly ArchivedTable[] = [
  { name: 'shop_order', via: null },
  { name: 'order_line', via: { column: 'order_id', from: 'shop_order', key: 'id' } },
  { name: 'order_event', via: { column: 'order_id', from: 'shop_order', key: 'id' } },
  { name: 'shipment', via: { column: 'order_id', from: 'shop_order', key: 'id' } },
  { name: 'tracking_event', via: { column: 'shipment_id', from: 'shipment', key: 'id' } },
  { name: 'after_sale', via: { column: 'order_id', from: 'shop_order', key: 'id' } },
  { name: 'after_sale_line', via: { column: 'after_sale_id', from: 'after_sale', key: 'id' } },
  { name: 'webhook_delivery', via: { column: 'event_id', from: 'order_event', key: 'id' } },
];

/**
 * Foreign keys into the moved tables from tables that stay hot. payment_order and refund point at
 * shop_order through a trigger instead (the order may be archived; see the migration); stock
 * reservations are never left on a finished order (a batch skips an order that has one).
 */
export const HOT_REFERENCES_ALLOWED: readonly string[] = ['stock_reservation.order_id->shop_order'];

/** Statuses after which an order never changes again on its own. */
export const FINISHED_STATUSES = ['COMPLETED', 'CANCELLED', 'REFUNDED'] as const;
