import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { checkPageSize } from '../../shared/pagination';
import { Product } from './product.entity';
import {
  pageStatement,
  shapeStats,
  statsStatement,
  type FacetResult,
  type SearchFilter,
  type SearchSort,
  type StatsRow,
} from './search.sql';

export interface SearchPage {
  items: { product: Product; cursor: string }[];
  hasNextPage: boolean;
  /** Count and facets, computed on first call only. */
  stats: () => Promise<{ totalCount: number; facets: FacetResult[] }>;
}

/** Catalog search on PostgreSQL full-text search; reads go to a replica when there is one. */
export class SearchService {
  constructor(private readonly maxPageSize: number) {}

  async search(em: EntityManager, filter: SearchFilter, sort: SearchSort, first: number, after?: string | null): Promise<SearchPage> {
    checkPageSize(first, this.maxPageSize);
    const page = pageStatement(filter, sort, first, after);
    let stats: Promise<{ totalCount: number; facets: FacetResult[] }> | undefined;
    const rows = await sqlAll<Record<string, any>>(em, page.sql, page.params, true);
    const items = rows.slice(0, first).map((row) => {
      const { sort_key, ...columns } = row;
      return { product: em.map(Product, columns), cursor: page.cursorOf({ id: String(row.id), sort_key }) };
    });
    return {
      items,
      hasNextPage: rows.length > first,
      stats: () =>
        (stats ??= (async () => {
          const s = statsStatement(filter);
          return shapeStats(await sqlAll<StatsRow>(em, s.sql, s.params, true));
        })()),
    };
  }
}
