"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SearchService = void 0;
const sql_1 = require("../../db/sql");
const pagination_1 = require("../../shared/pagination");
const ttl_cache_1 = require("../../shared/ttl-cache");
const product_entity_1 = require("./product.entity");
const search_sql_1 = require("./search.sql");
/** A filter as a stable cache key: property order and empty values do not matter. */
function filterKey(filter) {
    const attrs = (filter.attributes ?? [])
        .map((a) => [a.name, [...a.values].sort()])
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
 * concurrent identical searches share one query. Product data, prices and stock shown for the rows
 * are always loaded fresh; catalog writes through this process clear the cache at once.
 */
class SearchService {
    maxPageSize;
    pages;
    stats;
    constructor(maxPageSize, cacheTtlMs) {
        this.maxPageSize = maxPageSize;
        this.pages = new ttl_cache_1.TtlCache(cacheTtlMs);
        this.stats = new ttl_cache_1.TtlCache(cacheTtlMs);
    }
    /** Called after catalog writes. */
    invalidate() {
        this.pages.clear();
        this.stats.clear();
    }
    async search(em, filter, sort, first, after) {
        (0, pagination_1.checkPageSize)(first, this.maxPageSize);
        const page = (0, search_sql_1.pageStatement)(filter, sort, first, after);
        const key = filterKey(filter);
        const rows = await this.pages.getOrCreate(`${key}|${sort}|${first}|${after ?? ''}`, () => (0, sql_1.sqlAll)(em, page.sql, page.params, true));
        // Once per page even when the cache is off: the resolver starts it, totalCount and facets await it.
        let stats;
        const items = rows.slice(0, first).map((row) => {
            const { sort_key, ...columns } = row;
            return { product: em.map(product_entity_1.Product, columns), cursor: page.cursorOf({ id: String(row.id), sort_key }) };
        });
        return {
            items,
            hasNextPage: rows.length > first,
            stats: () => (stats ??= this.stats.getOrCreate(key, async () => {
                const s = (0, search_sql_1.statsStatement)(filter);
                return (0, search_sql_1.shapeStats)(await (0, sql_1.sqlAll)(em, s.sql, s.params, true));
            })),
        };
    }
}
exports.SearchService = SearchService;
//# sourceMappingURL=search.service.js.map