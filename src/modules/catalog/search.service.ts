import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { readingOwnWrites } from '../../db/read-routing';
import { checkPageSize } from '../../shared/pagination';
import type { CatalogCache } from './catalog.cache';
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
 * Catalog search on PostgreSQL full-text search; its reads may go to a replica (the resolver's
 * `forRead`, src/db/read-routing.ts).
 *
 * Popular searches repeat, and their SQL (ranking and facet counting over every match) is the
 * cost of a search, so result rows, counts and facets are kept in the shared catalog cache for
 * SEARCH_CACHE_TTL_MS (in Redis when it is configured, so every process shares them) and
 * concurrent identical searches share one query. Variants, prices and stock shown for the rows are
 * loaded fresh on every request; catalog writes start a new generation of search pages at once,
 * in every process.
 */
export class SearchService {
  constructor(
    private readonly maxPageSize: number,
    private readonly cache: CatalogCache,
  ) {}

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
    const loadPage = () => sqlAll<Record<string, any>>(em, page.sql, page.params, true);
    // A client that just wrote (with replicas) skips the shared cache: another client may have
    // filled it from a replica that lacked the write (docs/replicas.md).
    const ownWrites = readingOwnWrites();
    const rows =
      (ownWrites
        ? await loadPage()
        : await this.cache.searchPages.get(`${key}|${sort}|${first}|${after ?? ''}`, loadPage)) ?? [];
    // Once per page even when the cache is off: the resolver starts it, totalCount and facets await it.
    let stats: Promise<SearchStats> | undefined;
    const items = rows.slice(0, first).map((row) => {
      const { sort_key, ...columns } = row;
      return { product: toProduct(columns), cursor: page.cursorOf({ id: String(row.id), sort_key }) };
    });
    return {
      items,
      hasNextPage: rows.length > first,
      stats: () => {
        const loadStats = async () => {
          const s = statsStatement(filter);
          return shapeStats(await sqlAll<StatsRow>(em, s.sql, s.params, true));
        };
        return (stats ??= (ownWrites ? loadStats() : this.cache.searchStats.get(key, loadStats)).then(
          (s) => s as SearchStats,
        ));
      },
    };
  }
}
