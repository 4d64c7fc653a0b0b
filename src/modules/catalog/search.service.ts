import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { checkPageSize } from '../../shared/pagination';
import { TtlCache } from '../../shared/ttl-cache';
import type { Product } from './product.entity';
import { toProduct } from './catalog.rows';
import {
  pageStatement,
  shapeStats,
  statsStatement,
  type FacetResult,
  type SearchFilter,
  type SearchSort,
  type StatsRow,
} from './search.sql';

export interface SearchStats {
  totalCount: number;
  facets: FacetResult[];
}

export interface SearchPage {
  items: { product: Product; cursor: string }[];
  hasNextPage: boolean;
  /** Count and facets, computed on first call only. */
  stats: () => Promise<SearchStats>;
}

/** A filter as a stable cache key: property order and empty values do not matter. */
function filterKey(filter: SearchFilter): string {
  const attrs = (filter.attributes ?? [])
    .map((a) => [a.name, [...a.values].sort()] as const)
    .sort((a, b) => a[0].localeCompare(b[0]));
  return JSON.stringify([
    filter.query?.trim().toLowerCase() || null,
    filter.categoryId || null,
    filter.collection || null,
    filter.merchantId || null,
    filter.priceMin || null,
    filter.priceMax || null,
    attrs,
    !!filter.inStockOnly,
  ]);
}

/**
 * Catalog search on PostgreSQL full-text search; reads go to a replica when there is one.
 *
 * Popular searches repeat, and their SQL (ranking and facet counting over every match) is the
 * cost of a search, so result rows, counts and facets are reused for SEARCH_CACHE_TTL_MS and
 * concurrent identical searches share one query. Variants, prices and stock shown for the rows are
 * loaded fresh on every request; catalog writes through this process clear the cache at once, and
 * other processes see them within the TTL.
 */
export class SearchService {
  private readonly pages: TtlCache<Promise<Record<string, any>[]>>;
  private readonly stats: TtlCache<Promise<SearchStats>>;

  constructor(
    private readonly maxPageSize: number,
    cacheTtlMs: number,
  ) {
    this.pages = new TtlCache(cacheTtlMs);
    this.stats = new TtlCache(cacheTtlMs);
  }

  /** Called after catalog writes. */
  invalidate(): void {
    this.pages.clear();
    this.stats.clear();
  }

  async search(
    em: EntityManager,
    filter: SearchFilter,
    sort: SearchSort,
    first: number,
    after?: string | null,
  ): Promise<SearchPage> {
    checkPageSize(first, this.maxPageSize);
    const page = pageStatement(filter, sort, first, after);
    const key = filterKey(filter);
    const rows = await this.pages.getOrCreate(`${key}|${sort}|${first}|${after ?? ''}`, () =>
      sqlAll<Record<string, any>>(em, page.sql, page.params, true),
    );
    // Once per page even when the cache is off: the resolver starts it, totalCount and facets await it.
    let stats: Promise<SearchStats> | undefined;
    const items = rows.slice(0, first).map((row) => {
      const { sort_key, ...columns } = row;
      return { product: toProduct(columns), cursor: page.cursorOf({ id: String(row.id), sort_key }) };
    });
    return {
      items,
      hasNextPage: rows.length > first,
      stats: () =>
        (stats ??= this.stats.getOrCreate(key, async () => {
          const s = statsStatement(filter);
          return shapeStats(await sqlAll<StatsRow>(em, s.sql, s.params, true));
        })),
    };
  }
}
