import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { Category } from './category.entity';
import { Merchant } from './merchant.entity';
import { Product } from './product.entity';
import { Variant } from './variant.entity';

/** Request-scoped batch loaders: one statement per kind per tick, whatever the page size. */
export function catalogLoaders(em: EntityManager) {
  const byId = <T extends { id: string }>(entity: new () => T) =>
    new DataLoader<string, T | null>(async (ids) => {
      const rows = (await em.find(entity as any, { id: { $in: [...ids] } } as any)) as T[];
      const map = new Map(rows.map((r) => [String(r.id), r]));
      return ids.map((id) => map.get(id) ?? null);
    });

  return {
    merchant: byId(Merchant),
    category: byId(Category),
    product: byId(Product),
    variant: byId(Variant),
    /** Products most often in the same (not cancelled) orders as each product, best first. */
    alsoBought: new DataLoader<string, string[]>(async (productIds) => {
      const rows = await sqlAll<{ src: string; product_id: string }>(
        em,
        `select s.id as src, x.product_id
           from unnest($1::bigint[]) as s(id)
           cross join lateral (
             select ol2.product_id, count(distinct ol2.order_id) as n
               from order_line ol1
               join shop_order o on o.id = ol1.order_id and o.status <> 'CANCELLED'
               join order_line ol2 on ol2.order_id = ol1.order_id and ol2.product_id <> ol1.product_id
              where ol1.product_id = s.id
              group by ol2.product_id
              order by n desc, ol2.product_id
              limit 20
           ) x`,
        [productIds],
      );
      const grouped = new Map<string, string[]>(productIds.map((id) => [id, []]));
      for (const r of rows) grouped.get(String(r.src))?.push(String(r.product_id));
      return productIds.map((id) => grouped.get(id)!);
    }),
    variantsByProduct: new DataLoader<string, Variant[]>(async (productIds) => {
      const rows = await em.find(Variant, { productId: { $in: [...productIds] } }, { orderBy: { id: 'asc' } });
      const grouped = new Map<string, Variant[]>(productIds.map((id) => [id, []]));
      for (const v of rows) grouped.get(String(v.productId))?.push(v);
      return productIds.map((id) => grouped.get(id)!);
    }),
  };
}

export type CatalogLoaders = ReturnType<typeof catalogLoaders>;
