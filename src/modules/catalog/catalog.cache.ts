import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import type { CacheNamespace, SharedCache } from '../../shared/cache/shared-cache';
import { availabilityOf } from '../inventory/availability';
import { Availability } from './catalog.types';
import type { CatalogChange } from './catalog.service';
import { toCategory, toProduct } from './catalog.rows';
import type { Category } from './category.entity';
import type { Merchant } from './merchant.entity';
import type { Product } from './product.entity';
import { PRODUCT_COLUMNS } from './search.sql';
import type { Variant } from './variant.entity';

/**
 * A product page as cached: the product, its variants without stock counts (those change with
 * every order; shoppers see levels, cached apart), and its merchant.
 */
export interface CachedProduct extends Product {
  cached: { variants: Variant[]; merchant: Merchant | null };
}

export const isCached = (p: Product): p is CachedProduct => 'cached' in p && !!(p as CachedProduct).cached;

export interface CatalogCacheSettings {
  ttlMs: number;
  staleMs: number;
  /** Search pages and their counts and facets (SEARCH_CACHE_TTL_MS). */
  searchTtlMs: number;
  lowStockThreshold: number;
}

/** Order events after which the stock of the order's variants may have moved. */
const STOCK_EVENTS = new Set(['ORDER_CREATED', 'STATUS_CHANGED', 'AFTER_SALE_UPDATED']);

/**
 * The catalog's shared caches: product pages by id, slugs, the category tree, availability
 * levels, and search pages with their counts and facets. Catalog writes, stock changes and order
 * events (from the outbox, through the event bus) invalidate exactly what they changed; a stock
 * movement that leaves a variant's level (IN_STOCK, LOW_STOCK, OUT_OF_STOCK) where it was
 * invalidates nothing. Prices at checkout never come from here: checkout reads PostgreSQL.
 */
export class CatalogCache {
  readonly products: CacheNamespace<CachedProduct>;
  readonly slugs: CacheNamespace<string>;
  readonly categories: CacheNamespace<Category[]>;
  readonly levels: CacheNamespace<Availability>;
  readonly searchPages: CacheNamespace<Record<string, any>[]>;
  readonly searchStats: CacheNamespace<unknown>;

  constructor(
    readonly cache: SharedCache,
    private readonly settings: CatalogCacheSettings,
    private readonly log?: Logger,
  ) {
    const page = { freshMs: settings.ttlMs, staleMs: settings.staleMs };
    this.products = cache.namespace('product', page);
    this.slugs = cache.namespace('slug', page);
    this.categories = cache.namespace('categories', page);
    this.levels = cache.namespace('availability', page);
    // Search pages cannot be invalidated by key (nothing lists the pages a product is on): a
    // catalog write starts a new generation of them.
    const search = { freshMs: settings.searchTtlMs, staleMs: settings.searchTtlMs, generational: true };
    this.searchPages = cache.namespace('search-page', search);
    this.searchStats = cache.namespace('search-stats', search);
  }

  get enabled(): boolean {
    return this.products.enabled;
  }

  // ------------------------------------------------------------------ reads

  /** Product pages by id (null: no such product); one statement for all the misses. */
  productsById(em: EntityManager, ids: string[]): Promise<Map<string, CachedProduct | null>> {
    return this.products.getMany(ids, async (missing) => {
      const rows = await sqlAll<Record<string, any>>(
        em,
        `select ${PRODUCT_COLUMNS}, m.name as merchant_name,
                coalesce((select json_agg(json_build_object('id', v.id::text, 'product_id', v.product_id::text,
                            'merchant_id', v.merchant_id::text, 'sku', v.sku, 'title', v.title,
                            'attributes', v.attributes, 'price', v.price, 'created_at', v.created_at) order by v.id)
                            from variant v where v.product_id = p.id), '[]') as variants
           from product p join merchant m on m.id = p.merchant_id
          where p.id = any($1::bigint[])`,
        [missing],
      );
      return new Map(rows.map((r) => [String(r.id), toCachedProduct(r)]));
    });
  }

  /** The id of the product a slug names (null: none). */
  async productIdBySlug(em: EntityManager, slug: string): Promise<string | null> {
    return this.slugs.get(slug, async () => {
      const [row] = await sqlAll<{ id: string }>(em, 'select id from product where slug = $1', [slug]);
      return row ? String(row.id) : null;
    });
  }

  /** The whole category tree, parents before children. */
  async categoryTree(em: EntityManager): Promise<Category[]> {
    return (
      (await this.categories.get('all', async () =>
        (await sqlAll<Record<string, any>>(em, 'select * from category order by id')).map(toCategory),
      )) ?? []
    );
  }

  /** Availability levels of variants; the misses are read in one statement. */
  levelsOf(em: EntityManager, variantIds: string[]): Promise<Map<string, Availability | null>> {
    return this.levels.getMany(variantIds, (missing) => this.readLevels(em, missing));
  }

  private async readLevels(em: EntityManager, ids: string[]): Promise<Map<string, Availability>> {
    const rows = await sqlAll<{ id: string; on_hand: number; reserved: number; sold: number }>(
      em,
      'select id, on_hand, reserved, sold from variant where id = any($1::bigint[])',
      [ids],
    );
    return new Map(
      rows.map((r) => [
        String(r.id),
        availabilityOf(
          { onHand: r.on_hand, reserved: r.reserved, sold: r.sold },
          this.settings.lowStockThreshold,
        ),
      ]),
    );
  }

  // ------------------------------------------------------------------ invalidation

  /** A committed catalog write (products, slugs, categories). */
  async catalogChanged(change: CatalogChange): Promise<void> {
    await Promise.all([
      this.products.invalidate(change.productIds ?? []),
      this.slugs.invalidate(change.slugs ?? []),
      change.categories ? this.categories.invalidate(['all']) : undefined,
      change.productIds?.length ? this.invalidateSearch() : undefined,
    ]);
  }

  /**
   * Committed stock changes whose levels are known before and after (inventorySet): only the
   * variants whose level moved are dropped, and search pages only when one ran out or came back.
   */
  async levelsMoved(changes: { variantId: string; before: Availability; after: Availability }[]) {
    const moved = changes.filter((c) => c.before !== c.after);
    if (moved.length === 0) return;
    await this.levels.invalidate(moved.map((c) => c.variantId));
    if (
      moved.some((c) => (c.before === Availability.OUT_OF_STOCK) !== (c.after === Availability.OUT_OF_STOCK))
    )
      await this.invalidateSearch();
  }

  /**
   * Stock may have moved for these variants by a path that does not know the levels before (order
   * events): their levels are read once and compared with what is cached; only differences are
   * dropped. Variants nobody has cached cost nothing beyond the read.
   */
  async stockMayHaveMoved(em: EntityManager, variantIds: string[]): Promise<void> {
    if (!this.enabled || variantIds.length === 0) return;
    const now = await this.readLevels(em, variantIds);
    const cached = await this.levels.peek(variantIds);
    const changes = variantIds
      .filter((id) => cached.has(id) && now.has(id))
      .map((id) => ({ variantId: id, before: cached.get(id)!, after: now.get(id)! }));
    await this.levelsMoved(changes);
  }

  /** Order events from the outbox: the variants of orders that were created, cancelled, paid or returned. */
  async onOrderEvents(em: EntityManager, events: { orderId: string; type: string }[]): Promise<void> {
    const orderIds = [...new Set(events.filter((e) => STOCK_EVENTS.has(e.type)).map((e) => e.orderId))];
    if (!this.enabled || orderIds.length === 0) return;
    const rows = await sqlAll<{ variant_id: string }>(
      em,
      'select distinct variant_id from order_line where order_id = any($1::bigint[])',
      [orderIds],
    );
    await this.stockMayHaveMoved(
      em,
      rows.map((r) => String(r.variant_id)),
    );
  }

  async invalidateSearch(): Promise<void> {
    await Promise.all([this.searchPages.invalidateAll(), this.searchStats.invalidateAll()]);
  }

  /** For logs: what the namespaces did. */
  stats() {
    return Object.fromEntries(
      [this.products, this.slugs, this.categories, this.levels, this.searchPages, this.searchStats].map(
        (n) => [n.name, { ...n.stats }],
      ),
    );
  }

  warn(message: string, err: unknown): void {
    this.log?.warn({ err: String(err) }, message);
  }
}

function toCachedProduct(r: Record<string, any>): CachedProduct {
  const variants = (r.variants as Record<string, any>[]).map(
    (v) =>
      ({
        id: String(v.id),
        productId: String(v.product_id),
        merchantId: String(v.merchant_id),
        sku: v.sku,
        title: v.title,
        attributes: v.attributes,
        price: Number(v.price),
        createdAt: v.created_at,
      }) as Variant,
  );
  const merchant = { id: String(r.merchant_id), name: r.merchant_name } as Merchant;
  return Object.assign(toProduct(r), { cached: { variants, merchant } });
}
