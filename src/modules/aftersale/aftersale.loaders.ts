import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { AfterSaleLineRow, AfterSaleRow } from './aftersale.store';

const group = <R>(keys: readonly string[], rows: R[], keyOf: (r: R) => string): R[][] => {
  const m = new Map<string, R[]>(keys.map((k) => [k, []]));
  for (const r of rows) m.get(keyOf(r))?.push(r);
  return keys.map((k) => m.get(k)!);
};

/** Request-scoped batch loaders for after-sales: one statement per kind per batch. */
export function afterSaleLoaders(em: EntityManager) {
  return {
    byId: new DataLoader<string, AfterSaleRow | null>(async (ids) => {
      const rows = await sqlAll<AfterSaleRow>(em, 'select * from after_sale where id = any($1::bigint[])', [
        ids,
      ]);
      const m = new Map(rows.map((r) => [String(r.id), r]));
      return ids.map((id) => m.get(id) ?? null);
    }),
    byOrder: new DataLoader<string, AfterSaleRow[]>(async (ids) =>
      group(
        ids,
        await sqlAll<AfterSaleRow>(
          em,
          'select * from after_sale where order_id = any($1::bigint[]) order by order_id, id',
          [ids],
        ),
        (r) => String(r.order_id),
      ),
    ),
    lines: new DataLoader<string, AfterSaleLineRow[]>(async (ids) =>
      group(
        ids,
        await sqlAll<AfterSaleLineRow>(
          em,
          'select * from after_sale_line where after_sale_id = any($1::bigint[]) order by after_sale_id, order_line_id',
          [ids],
        ),
        (r) => String(r.after_sale_id),
      ),
    ),
  };
}
