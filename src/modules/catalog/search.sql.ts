import { decodeCursor, encodeCursor } from '../../shared/pagination';
import { parseMoney } from '../../shared/money';
import { badInput } from '../../shared/errors';
import { isId } from '../../shared/ids';

/**
 * Builds the SQL of a product search. Pure: no database, so the statements can be unit-tested and
 * reused verbatim by the benchmark's baseline server.
 */
export interface SearchFilter {
  query?: string | null;
  categoryId?: string | null;
  collection?: string | null;
  merchantId?: string | null;
  priceMin?: string | null;
  priceMax?: string | null;
  attributes?: { name: string; values: string[] }[] | null;
  inStockOnly?: boolean | null;
}

export type SearchSort = 'RELEVANCE' | 'PRICE_ASC' | 'PRICE_DESC' | 'NEWEST' | 'BEST_SELLING';

export interface Statement {
  sql: string;
  params: unknown[];
}

/** Product columns the entity maps; the trigger-maintained search columns stay in the database. */
export const PRODUCT_COLUMNS =
  'p.id, p.merchant_id, p.category_id, p.title, p.description, p.slug, p.media, p.seo_title, p.seo_description, p.collections, p.images, p.stock_policy, p.created_at, p.updated_at';

/** Price bands of the price facet, in minor units, by a product's lowest price. */
export const PRICE_BANDS: [number, number | null][] = [
  [0, 2500],
  [2500, 5000],
  [5000, 10000],
  [10000, 20000],
  [20000, 50000],
  [50000, null],
];
const bandLabel = ([lo, hi]: [number, number | null]) =>
  hi === null ? `${lo / 100}+` : `${lo / 100}-${hi / 100}`;

/**
 * The tsquery text for what a shopper typed: every word must match, the last one as a prefix
 * ("red jack" finds "red jacket"). Words are letters and digits only, so the text is always valid
 * tsquery syntax; null when nothing searchable was typed.
 */
export function toTsQuery(text: string): string | null {
  const words =
    text
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu)
      ?.slice(0, 12) ?? [];
  if (words.length === 0) return null;
  return words.map((w, i) => (i === words.length - 1 ? `'${w}':*` : `'${w}'`)).join(' & ');
}

class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

interface Conditions {
  /** Conditions other than attribute filters. */
  base: string[];
  /** Per filtered attribute name, the condition that a product has one of the wanted values. */
  attributes: { name: string; cond: string }[];
  /** Text of the tsquery, or null when there is no full-text query. */
  tsQuery: string | null;
  /** The tsquery expression in SQL, or null. */
  tsParam: string | null;
}

function conditions(filter: SearchFilter, params: Params): Conditions {
  // Ids are cast to bigint: one out of its range would fail in PostgreSQL rather than as input.
  if (filter.categoryId && !isId(filter.categoryId))
    throw badInput('categoryId is not a valid id', 'categoryId');
  if (filter.merchantId && !isId(filter.merchantId))
    throw badInput('merchantId is not a valid id', 'merchantId');
  const base: string[] = [];
  const tsQuery = filter.query ? toTsQuery(filter.query) : null;
  let tsParam: string | null = null;
  if (tsQuery) {
    // The word being typed also matches as a plain prefix ('simple' config): English stop words
    // and stemming would otherwise swallow a partial word such as "the" of "thermal".
    const terms = tsQuery.split(' & ');
    const last = params.add(terms.pop()!);
    const typed = `(to_tsquery('english', ${last}) || to_tsquery('simple', ${last}))`;
    tsParam = terms.length ? `(to_tsquery('english', ${params.add(terms.join(' & '))}) && ${typed})` : typed;
    base.push(`p.search @@ ${tsParam}`);
  }
  if (filter.categoryId) base.push(`p.category_path @> array[${params.add(filter.categoryId)}::bigint]`);
  if (filter.collection) base.push(`p.collections @> array[${params.add(filter.collection)}::text]`);
  if (filter.merchantId) base.push(`p.merchant_id = ${params.add(filter.merchantId)}::bigint`);
  if (filter.priceMin)
    base.push(`p.price_max >= ${params.add(parseMoney(filter.priceMin, 'priceMin'))}::bigint`);
  if (filter.priceMax)
    base.push(`p.price_min <= ${params.add(parseMoney(filter.priceMax, 'priceMax'))}::bigint`);
  if (filter.inStockOnly) base.push('p.in_stock');

  // One condition per attribute name: several filters on one name merge into one OR list.
  const byName = new Map<string, Set<string>>();
  for (const a of filter.attributes ?? []) {
    const set = byName.get(a.name) ?? new Set<string>();
    a.values.forEach((v) => set.add(`${a.name}=${v}`));
    byName.set(a.name, set);
  }
  const attributes = [...byName].map(([name, pairs]) => ({
    name,
    cond: `p.attrs && ${params.add([...pairs])}::text[]`,
  }));
  return { base, attributes, tsQuery, tsParam };
}

const where = (conds: string[]) => (conds.length ? `where ${conds.join(' and ')}` : '');

interface SortSpec {
  /** Expression of the first sort key (null: id only). */
  key: string | null;
  desc: boolean;
  cursorShape: ('string' | 'number')[];
}

function sortSpec(sort: SearchSort, tsParam: string | null): SortSpec {
  switch (sort) {
    case 'RELEVANCE':
      // Without a query there is nothing to rank: newest first.
      return tsParam
        ? { key: `ts_rank(p.search, ${tsParam})`, desc: true, cursorShape: ['string', 'string'] }
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
function isReal(v: string): boolean {
  const n = Math.abs(Number(v));
  return n === 0 || (n >= 1e-44 && n <= 3.4e38);
}

export interface PageStatement extends Statement {
  /** Builds the opaque cursor of a result row. */
  cursorOf(row: { id: string; sort_key?: string | null }): string;
}

/** The page: `first + 1` rows so the caller knows whether there is a next page. Keyset, never OFFSET. */
export function pageStatement(
  filter: SearchFilter,
  sort: SearchSort,
  first: number,
  after?: string | null,
): PageStatement {
  const params = new Params();
  const c = conditions(filter, params);
  const spec = sortSpec(sort, c.tsParam);
  const conds = [...c.base, ...c.attributes.map((a) => a.cond)];
  const op = spec.desc ? '<' : '>';
  const dir = spec.desc ? 'desc' : 'asc';
  if (after) {
    const values = decodeCursor(after, spec.cursorShape) as string[];
    // The values are cast to bigint (ids, prices, sales) or real (rank): a forged value out of
    // range, fractional or in exponent form would fail in PostgreSQL instead of as input.
    const rankKey = spec.key !== null && sort === 'RELEVANCE';
    if (!values.every((v, i) => (i === 0 && rankKey ? isReal(v) : isId(v))))
      throw badInput('Malformed cursor', 'after');
    if (spec.key) {
      const keyCast = sort === 'RELEVANCE' ? 'real' : 'bigint';
      conds.push(
        `(${spec.key}, p.id) ${op} (${params.add(values[0])}::${keyCast}, ${params.add(values[1])}::bigint)`,
      );
    } else {
      conds.push(`p.id ${op} ${params.add(values[0])}::bigint`);
    }
  }
  const order = spec.key ? `${spec.key} ${dir}, p.id ${dir}` : `p.id ${dir}`;
  const keyCol = spec.key ? `, (${spec.key})::text as sort_key` : '';
  const sql = `select ${PRODUCT_COLUMNS}${keyCol} from product p ${where(conds)} order by ${order} limit ${params.add(first + 1)}`;
  return {
    sql,
    params: params.values,
    cursorOf: (row) => encodeCursor(spec.key ? [String(row.sort_key), String(row.id)] : [String(row.id)]),
  };
}

/**
 * Total count and all facets in one statement. Each attribute's facet applies every filter except
 * its own, so the values of a filtered attribute still show what widening the filter would add.
 */
export function statsStatement(filter: SearchFilter): Statement {
  const params = new Params();
  const c = conditions(filter, params);
  const all = c.attributes.map((a) => a.cond);
  const allAttrs = all.length ? all.join(' and ') : 'true';
  // For a facet value "name=value", the attribute filters on other names must hold.
  const othersHold = c.attributes.length
    ? c.attributes
        .map((a) => `(left(v.pair, strpos(v.pair, '=') - 1) = ${params.add(a.name)} or ${a.cond})`)
        .join(' and ')
    : 'true';
  const band = `case ${PRICE_BANDS.map(([, hi], i) =>
    hi === null
      ? `else ${params.add(bandLabel(PRICE_BANDS[i]))}`
      : `when p.price_min < ${hi} then ${params.add(bandLabel(PRICE_BANDS[i]))}`,
  ).join(' ')} end`;
  // The filtered set is read once (one index scan), then counted four ways. Category names are
  // joined to the few grouped rows, so the facet shows them without another statement.
  const sql = `
with matched as materialized (
  select p.category_id, p.price_min, p.attrs from product p ${where(c.base)}
)
select 'total' as facet, null as value, count(*)::int as count, null as label from matched p where ${allAttrs}
union all
select 'category', g.id::text, g.n, c.name from (
  select p.category_id as id, count(*)::int as n from matched p
   where ${allAttrs} and p.category_id is not null group by 1
) g join category c on c.id = g.id
union all
select 'price', ${band}, count(*)::int, null from matched p where ${allAttrs} group by 2
union all
select 'attr', v.pair, count(*)::int, null from matched p cross join lateral unnest(p.attrs) as v(pair)
 where ${othersHold} group by 2`;
  return { sql, params: params.values };
}

export interface StatsRow {
  facet: string;
  value: string | null;
  count: number;
  /** The category's name (category rows only). */
  label: string | null;
}

export interface FacetValueResult {
  value: string;
  count: number;
  /** What a storefront shows: the category's name, or the value itself. */
  label: string;
}

export interface FacetResult {
  name: string;
  values: FacetValueResult[];
}

/** Shapes the rows of `statsStatement` into the total and the facets, most frequent values first. */
export function shapeStats(rows: StatsRow[]): { totalCount: number; facets: FacetResult[] } {
  let totalCount = 0;
  const category: FacetResult = { name: 'category', values: [] };
  const price: FacetResult = { name: 'price', values: [] };
  const attrs = new Map<string, FacetResult>();
  for (const r of rows) {
    if (r.facet === 'total') totalCount = r.count;
    else if (r.facet === 'category')
      category.values.push({ value: r.value!, count: r.count, label: r.label ?? r.value! });
    else if (r.facet === 'price') price.values.push({ value: r.value!, count: r.count, label: r.value! });
    else {
      const at = r.value!.indexOf('=');
      const name = r.value!.slice(0, at);
      const facet = attrs.get(name) ?? { name, values: [] };
      const value = r.value!.slice(at + 1);
      facet.values.push({ value, count: r.count, label: value });
      attrs.set(name, facet);
    }
  }
  const byCount = (a: FacetValueResult, b: FacetValueResult) =>
    b.count - a.count || a.value.localeCompare(b.value);
  category.values.sort(byCount);
  const bandOrder = PRICE_BANDS.map(bandLabel);
  price.values.sort((a, b) => bandOrder.indexOf(a.value) - bandOrder.indexOf(b.value));
  const attributeFacets = [...attrs.values()].sort((a, b) => a.name.localeCompare(b.name));
  attributeFacets.forEach((f) => f.values.sort(byCount));
  return { totalCount, facets: [category, price, ...attributeFacets] };
}

export function assertSort(sort: string): asserts sort is SearchSort {
  if (!['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC', 'NEWEST', 'BEST_SELLING'].includes(sort))
    throw badInput('Unknown sort');
}
