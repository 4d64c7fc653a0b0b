import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { toCategory, toMerchant, toProduct, toVariant } from './catalog.rows';
import { PRODUCT_COLUMNS } from './search.sql';
import type { Variant } from './variant.entity';
import type { CatalogCache, CachedProduct } from './catalog.cache';
import type { Availability } from './catalog.types';
import type { Category } from './category.entity';

/** What a product's price range and availability need of each variant. */
export interface VariantLevels {
  price: number;
  onHand: number;
  reserved: number;
  sold: number;
}

/**
 * Request-scoped batch loaders: one statement per kind per tick, whatever the page size. They read
 * the primary: a mutation's answer must show what it just wrote. The `cached*` ones read the
 * shared catalog cache first (storefront pages); without a cache they read PostgreSQL.
 */
export function catalogLoaders(em: EntityManager, cache?: CatalogCache) {
  let tree: Promise<Map<string, Category>> | undefined;
  const byId = <T>(table: string, map: (r: Record<string, any>) => T, columns = '*') =>
    new DataLoader<string, T | null>(async (ids) => {
      const rows = await sqlAll<Record<string, any>>(
        em,
        `select ${columns} from ${table} p where id = any($1::bigint[])`,
        [ids],
      );
      const found = new Map(rows.map((r) => [String(r.id), map(r)]));
      return ids.map((id) => found.get(id) ?? null);
    });

  const product = byId('product', toProduct, PRODUCT_COLUMNS);
  const category = byId('category', toCategory);
  const useCache = !!cache?.enabled;
  return {
    /** Product pages: the cached page (variants without counts, merchant) when the cache is on. */
    cachedProduct: useCache
      ? new DataLoader<string, CachedProduct | null>(async (ids) => {
          const found = await cache!.productsById(em, [...ids]);
          return ids.map((id) => found.get(id) ?? null);
        })
      : product,
    /** Availability levels of variants read from the cache (their counts are not there). */
    cachedLevel: new DataLoader<string, Availability | null>(async (ids) => {
      const found = await cache!.levelsOf(em, [...ids]);
      return ids.map((id) => found.get(id) ?? null);
    }),
    /** A category from the cached tree (once per request). */
    cachedCategory: async (id: string): Promise<Category | null> => {
      if (!useCache) return category.load(id);
      // Marked, so that its parent is looked up in the tree too.
      tree ??= cache!
        .categoryTree(em)
        .then((all) => new Map(all.map((c) => [String(c.id), { ...c, fromTree: true } as Category])));
      return (await tree).get(id) ?? null;
    },
    merchant: byId('merchant', toMerchant),
    category,
    product,
    variant: byId('variant', toVariant),
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
    /**
     * Price and stock counts of each product's variants, for `priceRange` and `availability` when
     * the operation shows no variant itself: five narrow columns instead of the whole row (the
     * search page's largest statement; half its driver CPU went to columns it never showed).
     */
    variantLevelsByProduct: new DataLoader<string, VariantLevels[]>(async (productIds) => {
      const rows = await sqlAll<{
        product_id: string;
        price: string;
        on_hand: number;
        reserved: number;
        sold: number;
      }>(
        em,
        'select product_id, price, on_hand, reserved, sold from variant where product_id = any($1::bigint[]) order by id',
        [productIds],
      );
      const grouped = new Map<string, VariantLevels[]>(productIds.map((id) => [id, []]));
      for (const r of rows)
        grouped
          .get(String(r.product_id))
          ?.push({ price: Number(r.price), onHand: r.on_hand, reserved: r.reserved, sold: r.sold });
      return productIds.map((id) => grouped.get(id)!);
    }),
    variantsByProduct: new DataLoader<string, Variant[]>(async (productIds) => {
      const rows = await sqlAll<Record<string, any>>(
        em,
        'select * from variant where product_id = any($1::bigint[]) order by id',
        [productIds],
      );
      const grouped = new Map<string, Variant[]>(productIds.map((id) => [id, []]));
      for (const r of rows) grouped.get(String(r.product_id))?.push(toVariant(r));
      return productIds.map((id) => grouped.get(id)!);
    }),
  };
}

export type CatalogLoaders = ReturnType<typeof catalogLoaders>;
