import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { rowById, rowsPerKey } from '../../shared/batch';
import type { AfterSaleLineRow, AfterSaleRow } from './aftersale.store';

/** Request-scoped batch loaders for after-sales, hot or archived (docs/archive.md): one statement per kind per batch. */
export function afterSaleLoaders(em: EntityManager) {
  return {
    byId: new DataLoader(
      rowById<AfterSaleRow>(
        em,
        `select * from after_sale where id = any($1::bigint[])
         union all select * from archive.after_sale where id = any($1::bigint[])`,
      ),
    ),
    byOrder: new DataLoader(
      rowsPerKey<AfterSaleRow>(
        em,
        `select * from after_sale where order_id = any($1::bigint[])
         union all select * from archive.after_sale where order_id = any($1::bigint[]) order by order_id, id`,
        (r) => String(r.order_id),
      ),
    ),
    lines: new DataLoader(
      rowsPerKey<AfterSaleLineRow>(
        em,
        `select * from after_sale_line where after_sale_id = any($1::bigint[])
         union all select * from archive.after_sale_line where after_sale_id = any($1::bigint[])
         order by after_sale_id, order_line_id`,
        (r) => String(r.after_sale_id),
      ),
    ),
  };
}
