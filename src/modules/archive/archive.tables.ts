/**
 * What moves with an order into the `archive` schema, and how each table's rows of a batch are
 * found. Payments (payment, payment_order, refund, provider_event) and the ledger stay hot: money
 * and its invariants never leave the tables the ledger checks.
 */
export interface ArchivedTable {
  /** The table in `public` and in `archive`. */
  name: string;
  /**
   * How its rows of the batch's orders (`$1`, a bigint[]) are found, as the rest of
   * `delete from <name> t …`: directly by order id, or through the parent table (every part of the
   * move statement sees the rows as they were before it, so the parent's rows are still there).
   */
  rows: string;
}

const ofOrders = 'where t.order_id = any($1::bigint[])';
const through = (parent: string, column: string) =>
  `using public.${parent} p where p.id = t.${column} and p.order_id = any($1::bigint[])`;

export const ARCHIVED_TABLES: readonly ArchivedTable[] = [
  { name: 'shop_order', rows: 'where t.id = any($1::bigint[])' },
  { name: 'order_line', rows: ofOrders },
  { name: 'order_event', rows: ofOrders },
  { name: 'shipment', rows: ofOrders },
  { name: 'tracking_event', rows: through('shipment', 'shipment_id') },
  { name: 'after_sale', rows: ofOrders },
  { name: 'after_sale_line', rows: through('after_sale', 'after_sale_id') },
  { name: 'webhook_delivery', rows: through('order_event', 'event_id') },
];

/**
 * Foreign keys into the moved tables from tables that stay hot. payment_order and refund point at
 * shop_order through a trigger instead (the order may be archived; see the migration); stock
 * reservations are never left on a finished order (a batch skips an order that has one).
 */
export const HOT_REFERENCES_ALLOWED: readonly string[] = ['stock_reservation.order_id->shop_order'];

/** Statuses after which an order never changes again on its own. */
export const FINISHED_STATUSES = ['COMPLETED', 'CANCELLED', 'REFUNDED'] as const;
