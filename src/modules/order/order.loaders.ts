import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { rowsPerKey } from '../../shared/batch';
import { orderFromRow, type Order, type OrderRow } from './order.store';
import type { OrderEventRow } from '../events/order-events';

/** The orders of each checkout (converted once, as they come: `orderFromRow`). */
const ordersPerCheckout = (em: EntityManager) => {
  const rows = rowsPerKey<OrderRow>(
    em,
    `select * from shop_order where checkout_id = any($1::bigint[])
     union all select * from archive.shop_order where checkout_id = any($1::bigint[]) order by id`,
    (r) => String(r.checkout_id),
  );
  return async (keys: readonly string[]): Promise<Order[][]> =>
    (await rows(keys)).map((orders) => orders.map(orderFromRow));
};

export interface OrderLineRow {
  id: string;
  order_id: string;
  variant_id: string;
  sku: string;
  title: string;
  attributes: { name: string; value: string }[];
  quantity: number;
  unit_price: string;
  total: string;
  snapshot_digest: string;
}

/**
 * Request-scoped batch loaders for order detail: a constant number of statements per page. An
 * order's rows are hot or archived (docs/archive.md); each statement reads both, the archive's
 * side costing one index probe.
 */
export function orderLoaders(em: EntityManager) {
  return {
    linesByOrder: new DataLoader(
      rowsPerKey<OrderLineRow>(
        em,
        `select * from order_line where order_id = any($1::bigint[])
         union all select * from archive.order_line where order_id = any($1::bigint[]) order by id`,
        (r) => String(r.order_id),
      ),
    ),
    eventsByOrder: new DataLoader(
      rowsPerKey<OrderEventRow>(
        em,
        `select * from order_event where order_id = any($1::bigint[])
         union all select * from archive.order_event where order_id = any($1::bigint[]) order by order_id, seq`,
        (r) => String(r.order_id),
      ),
    ),
    ordersByCheckout: new DataLoader(ordersPerCheckout(em)),
    snapshot: new DataLoader<string, { digest: string; title: string; data: unknown } | null>(
      async (digests) => {
        const rows = await sqlAll<{ digest: string; title: string; data: unknown }>(
          em,
          'select digest, title, data from product_snapshot where digest = any($1::text[])',
          [digests],
        );
        const m = new Map(rows.map((r) => [r.digest, r]));
        return digests.map((d) => m.get(d) ?? null);
      },
    ),
    customer: new DataLoader<string, { id: string; name: string } | null>(async (ids) => {
      const rows = await sqlAll<{ id: string; name: string }>(
        em,
        'select id, name from app_user where id = any($1::bigint[])',
        [ids],
      );
      const m = new Map(rows.map((r) => [String(r.id), { id: String(r.id), name: r.name }]));
      return ids.map((id) => m.get(id) ?? null);
    }),
  };
}
