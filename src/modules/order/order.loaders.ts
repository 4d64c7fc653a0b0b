import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { OrderRow } from './order.service';
import type { OrderEventRow } from '../events/order-events';

const groupRows = <R>(keys: readonly string[], rows: R[], keyOf: (r: R) => string): R[][] => {
  const m = new Map<string, R[]>(keys.map((k) => [k, []]));
  for (const r of rows) m.get(keyOf(r))?.push(r);
  return keys.map((k) => m.get(k)!);
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


/** Request-scoped batch loaders for order detail: a constant number of statements per page. */
export function orderLoaders(em: EntityManager) {
  return {
    linesByOrder: new DataLoader<string, OrderLineRow[]>(async (ids) =>
      groupRows(ids, await sqlAll<OrderLineRow>(em, 'select * from order_line where order_id = any($1::bigint[]) order by id', [ids]), (r) => String(r.order_id)),
    ),
    eventsByOrder: new DataLoader<string, OrderEventRow[]>(async (ids) =>
      groupRows(ids, await sqlAll<OrderEventRow>(em, 'select * from order_event where order_id = any($1::bigint[]) order by order_id, seq', [ids]), (r) => String(r.order_id)),
    ),
    ordersByCheckout: new DataLoader<string, OrderRow[]>(async (ids) =>
      groupRows(ids, await sqlAll<OrderRow>(em, 'select * from shop_order where checkout_id = any($1::bigint[]) order by id', [ids]), (r) => String(r.checkout_id)),
    ),
    snapshot: new DataLoader<string, { digest: string; title: string; data: unknown } | null>(async (digests) => {
      const rows = await sqlAll<{ digest: string; title: string; data: unknown }>(em, 'select digest, title, data from product_snapshot where digest = any($1::text[])', [digests]);
      const m = new Map(rows.map((r) => [r.digest, r]));
      return digests.map((d) => m.get(d) ?? null);
    }),
    customer: new DataLoader<string, { id: string; name: string } | null>(async (ids) => {
      const rows = await sqlAll<{ id: string; name: string }>(em, 'select id, name from app_user where id = any($1::bigint[])', [ids]);
      const m = new Map(rows.map((r) => [String(r.id), { id: String(r.id), name: r.name }]));
      return ids.map((id) => m.get(id) ?? null);
    }),
  };
}
