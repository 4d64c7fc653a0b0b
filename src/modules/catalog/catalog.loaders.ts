import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
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
    variantsByProduct: new DataLoader<string, Variant[]>(async (productIds) => {
      const rows = await em.find(Variant, { productId: { $in: [...productIds] } }, { orderBy: { id: 'asc' } });
      const grouped = new Map<string, Variant[]>(productIds.map((id) => [id, []]));
      for (const v of rows) grouped.get(String(v.productId))?.push(v);
      return productIds.map((id) => grouped.get(id)!);
    }),
  };
}

export type CatalogLoaders = ReturnType<typeof catalogLoaders>;
