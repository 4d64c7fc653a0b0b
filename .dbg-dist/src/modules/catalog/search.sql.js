"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.PRICE_BANDS = exports.PRODUCT_COLUMNS = void 0;
exports.toTsQuery = toTsQuery;
exports.pageStatement = pageStatement;
exports.statsStatement = statsStatement;
exports.shapeStats = shapeStats;
exports.assertSort = assertSort;
const pagination_1 = require("../../shared/pagination");
const money_1 = require("../../shared/money");
const errors_1 = require("../../shared/errors");
const ids_1 = require("../../shared/ids");
/** Product columns the entity maps; the trigger-maintained search columns stay in the database. */
exports.PRODUCT_COLUMNS = 'p.id, p.merchant_id, p.category_id, p.title, p.description, p.collections, p.images, p.stock_policy, p.created_at, p.updated_at';
/** Price bands of the price facet, in minor units, by a product's lowest price. */
exports.PRICE_BANDS = [
    [0, 2500],
    [2500, 5000],
    [5000, 10000],
    [10000, 20000],
    [20000, 50000],
    [50000, null],
];
const bandLabel = ([lo, hi]) => (hi === null ? `${lo / 100}+` : `${lo / 100}-${hi / 100}`);
/**
 * The tsquery text for what a shopper typed: every word must match, the last one as a prefix
 * ("red jack" finds "red jacket"). Words are letters and digits only, so the text is always valid
 * tsquery syntax; null when nothing searchable was typed.
 */
function toTsQuery(text) {
    const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu)?.slice(0, 12) ?? [];
    if (words.length === 0)
        return null;
    return words.map((w, i) => (i === words.length - 1 ? `'${w}':*` : `'${w}'`)).join(' & ');
}
class Params {
    values = [];
    add(v) {
        this.values.push(v);
        return `$${this.values.length}`;
    }
}
function conditions(filter, params) {
    // Ids are cast to bigint: one out of its range would fail in PostgreSQL rather than as input.
    if (filter.categoryId && !(0, ids_1.isId)(filter.categoryId))
        throw (0, errors_1.badInput)('categoryId is not a valid id', 'categoryId');
    if (filter.merchantId && !(0, ids_1.isId)(filter.merchantId))
        throw (0, errors_1.badInput)('merchantId is not a valid id', 'merchantId');
    const base = [];
    const tsQuery = filter.query ? toTsQuery(filter.query) : null;
    let tsParam = null;
    if (tsQuery) {
        tsParam = params.add(tsQuery);
        base.push(`p.search @@ to_tsquery('english', ${tsParam})`);
    }
    if (filter.categoryId)
        base.push(`p.category_path @> array[${params.add(filter.categoryId)}::bigint]`);
    if (filter.collection)
        base.push(`p.collections @> array[${params.add(filter.collection)}::text]`);
    if (filter.merchantId)
        base.push(`p.merchant_id = ${params.add(filter.merchantId)}::bigint`);
    if (filter.priceMin)
        base.push(`p.price_max >= ${params.add((0, money_1.parseMoney)(filter.priceMin, 'priceMin'))}::bigint`);
    if (filter.priceMax)
        base.push(`p.price_min <= ${params.add((0, money_1.parseMoney)(filter.priceMax, 'priceMax'))}::bigint`);
    if (filter.inStockOnly)
        base.push('p.in_stock');
    // One condition per attribute name: several filters on one name merge into one OR list.
    const byName = new Map();
    for (const a of filter.attributes ?? []) {
        const set = byName.get(a.name) ?? new Set();
        a.values.forEach((v) => set.add(`${a.name}=${v}`));
        byName.set(a.name, set);
    }
    const attributes = [...byName].map(([name, pairs]) => ({
        name,
        cond: `p.attrs && ${params.add([...pairs])}::text[]`,
    }));
    return { base, attributes, tsQuery, tsParam };
}
const where = (conds) => (conds.length ? `where ${conds.join(' and ')}` : '');
function sortSpec(sort, tsParam) {
    switch (sort) {
        case 'RELEVANCE':
            // Without a query there is nothing to rank: newest first.
            return tsParam
                ? { key: `ts_rank(p.search, to_tsquery('english', ${tsParam}))`, desc: true, cursorShape: ['string', 'string'] }
                : { key: null, desc: true, cursorShape: ['string'] };
        case 'PRICE_ASC':
            return { key: 'p.price_min', desc: false, cursorShape: ['string', 'string'] };
        case 'PRICE_DESC':
            return { key: 'p.price_min', desc: true, cursorShape: ['string', 'string'] };
        case 'BEST_SELLING':
            return { key: 'p.sold_total', desc: true, cursorShape: ['string', 'string'] };
        case 'NEWEST':
            // Ids are assigned in creation order, so the primary key is the creation order.
            return { key: null, desc: true, cursorShape: ['string'] };
    }
}
/** Whether PostgreSQL reads the text as a real (float4): zero, or within its range. */
function isReal(v) {
    const n = Math.abs(Number(v));
    return n === 0 || (n >= 1e-44 && n <= 3.4e38);
}
/** The page: `first + 1` rows so the caller knows whether there is a next page. Keyset, never OFFSET. */
function pageStatement(filter, sort, first, after) {
    const params = new Params();
    const c = conditions(filter, params);
    const spec = sortSpec(sort, c.tsParam);
    const conds = [...c.base, ...c.attributes.map((a) => a.cond)];
    const op = spec.desc ? '<' : '>';
    const dir = spec.desc ? 'desc' : 'asc';
    if (after) {
        const values = (0, pagination_1.decodeCursor)(after, spec.cursorShape);
        // The values are cast to bigint (ids, prices, sales) or real (rank): a forged value out of
        // range, fractional or in exponent form would fail in PostgreSQL instead of as input.
        const rankKey = spec.key !== null && sort === 'RELEVANCE';
        if (!values.every((v, i) => (i === 0 && rankKey ? isReal(v) : (0, ids_1.isId)(v))))
            throw (0, errors_1.badInput)('Malformed cursor', 'after');
        if (spec.key) {
            const keyCast = sort === 'RELEVANCE' ? 'real' : 'bigint';
            conds.push(`(${spec.key}, p.id) ${op} (${params.add(values[0])}::${keyCast}, ${params.add(values[1])}::bigint)`);
        }
        else {
            conds.push(`p.id ${op} ${params.add(values[0])}::bigint`);
        }
    }
    const order = spec.key ? `${spec.key} ${dir}, p.id ${dir}` : `p.id ${dir}`;
    const keyCol = spec.key ? `, (${spec.key})::text as sort_key` : '';
    const sql = `select ${exports.PRODUCT_COLUMNS}${keyCol} from product p ${where(conds)} order by ${order} limit ${params.add(first + 1)}`;
    return {
        sql,
        params: params.values,
        cursorOf: (row) => (0, pagination_1.encodeCursor)(spec.key ? [String(row.sort_key), String(row.id)] : [String(row.id)]),
    };
}
/**
 * Total count and all facets in one statement. Each attribute's facet applies every filter except
 * its own, so the values of a filtered attribute still show what widening the filter would add.
 */
function statsStatement(filter) {
    const params = new Params();
    const c = conditions(filter, params);
    const all = c.attributes.map((a) => a.cond);
    const allAttrs = all.length ? all.join(' and ') : 'true';
    // For a facet value "name=value", the attribute filters on other names must hold.
    const othersHold = c.attributes.length
        ? c.attributes.map((a) => `(left(v.pair, strpos(v.pair, '=') - 1) = ${params.add(a.name)} or ${a.cond})`).join(' and ')
        : 'true';
    const band = `case ${exports.PRICE_BANDS.map(([lo, hi], i) => hi === null ? `else ${params.add(bandLabel(exports.PRICE_BANDS[i]))}` : `when p.price_min < ${hi} then ${params.add(bandLabel(exports.PRICE_BANDS[i]))}`).join(' ')} end`;
    // The filtered set is read once (one index scan), then counted four ways.
    const sql = `
with matched as materialized (
  select p.category_id, p.price_min, p.attrs from product p ${where(c.base)}
)
select 'total' as facet, null as value, count(*)::int as count from matched p where ${allAttrs}
union all
select 'category', p.category_id::text, count(*)::int from matched p
 where ${allAttrs} and p.category_id is not null group by 2
union all
select 'price', ${band}, count(*)::int from matched p where ${allAttrs} group by 2
union all
select 'attr', v.pair, count(*)::int from matched p cross join lateral unnest(p.attrs) as v(pair)
 where ${othersHold} group by 2`;
    return { sql, params: params.values };
}
/** Shapes the rows of `statsStatement` into the total and the facets, most frequent values first. */
function shapeStats(rows) {
    let totalCount = 0;
    const category = { name: 'category', values: [] };
    const price = { name: 'price', values: [] };
    const attrs = new Map();
    for (const r of rows) {
        if (r.facet === 'total')
            totalCount = r.count;
        else if (r.facet === 'category')
            category.values.push({ value: r.value, count: r.count });
        else if (r.facet === 'price')
            price.values.push({ value: r.value, count: r.count });
        else {
            const at = r.value.indexOf('=');
            const name = r.value.slice(0, at);
            const facet = attrs.get(name) ?? { name, values: [] };
            facet.values.push({ value: r.value.slice(at + 1), count: r.count });
            attrs.set(name, facet);
        }
    }
    const byCount = (a, b) => b.count - a.count || a.value.localeCompare(b.value);
    category.values.sort(byCount);
    const bandOrder = exports.PRICE_BANDS.map(bandLabel);
    price.values.sort((a, b) => bandOrder.indexOf(a.value) - bandOrder.indexOf(b.value));
    const attributeFacets = [...attrs.values()].sort((a, b) => a.name.localeCompare(b.name));
    attributeFacets.forEach((f) => f.values.sort(byCount));
    return { totalCount, facets: [category, price, ...attributeFacets] };
}
function assertSort(sort) {
    if (!['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC', 'NEWEST', 'BEST_SELLING'].includes(sort))
        throw (0, errors_1.badInput)('Unknown sort');
}
//# sourceMappingURL=search.sql.js.map