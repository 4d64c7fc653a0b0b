import { buildSchema } from 'graphql';
import { Pool } from 'pg';
import { serveBareGraphQL } from './bare-graphql';
import {
  pageStatement,
  shapeStats,
  statsStatement,
  type SearchFilter,
  type StatsRow,
} from '../src/modules/catalog/search.sql';

/**
 * The benchmark's baseline: a bare node:http + pg + graphql-js server running the same SQL as the
 * application's search (page, count and facets, variants, merchants), with none of the framework.
 */
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE ?? 10),
});

const schema = buildSchema(`
  type Money { amount: String! currency: String! }
  type PriceRange { min: Money! max: Money! }
  type Merchant { id: ID! name: String! }
  type Product { id: ID! title: String! merchant: Merchant! priceRange: PriceRange! availability: String! }
  type ProductEdge { cursor: String! node: Product! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type FacetValue { value: String! count: Int! }
  type Facet { name: String! values: [FacetValue!]! }
  type ProductConnection { edges: [ProductEdge!]! pageInfo: PageInfo! totalCount: Int! facets: [Facet!]! }
  input AttributeFilter { name: String! values: [String!]! }
  input ProductFilter { query: String categoryId: ID collection: String merchantId: ID priceMin: String priceMax: String attributes: [AttributeFilter!] inStockOnly: Boolean }
  type Query { products(filter: ProductFilter, first: Int = 20, after: String): ProductConnection! }
`);

const money = (minor: number) => ({ amount: (minor / 100).toFixed(2), currency: 'USD' });

const root = {
  async products(
    args: { filter?: SearchFilter; first: number; after?: string },
    ctx: { statements: number },
  ) {
    const page = pageStatement(args.filter ?? {}, 'RELEVANCE', args.first, args.after);
    const stats = statsStatement(args.filter ?? {});
    ctx.statements += 2;
    const [rows, statRows] = await Promise.all([
      pool.query(page.sql, page.params),
      pool.query<StatsRow>(stats.sql, stats.params),
    ]);
    const items = rows.rows.slice(0, args.first);
    const ids = items.map((r) => r.id);
    const merchantIds = [...new Set(items.map((r) => r.merchant_id))];
    ctx.statements += 2;
    const [variants, merchants] = await Promise.all([
      pool.query(
        'select product_id, price, on_hand, reserved, sold from variant where product_id = any($1::bigint[]) order by id',
        [ids],
      ),
      pool.query('select id, name from merchant where id = any($1::bigint[])', [merchantIds]),
    ]);
    const merchantById = new Map(merchants.rows.map((m) => [m.id, m]));
    const { totalCount, facets } = shapeStats(statRows.rows);
    return {
      totalCount,
      facets,
      pageInfo: { hasNextPage: rows.rows.length > args.first, endCursor: null },
      edges: items.map((r) => {
        const vs = variants.rows.filter((v) => v.product_id === r.id);
        const prices = vs.map((v) => Number(v.price));
        const best = Math.max(0, ...vs.map((v) => v.on_hand - v.reserved - v.sold));
        return {
          cursor: page.cursorOf({ id: r.id, sort_key: r.sort_key }),
          node: {
            id: r.id,
            title: r.title,
            merchant: merchantById.get(r.merchant_id),
            priceRange: { min: money(Math.min(...prices)), max: money(Math.max(...prices)) },
            availability: best === 0 ? 'OUT_OF_STOCK' : best <= 5 ? 'LOW_STOCK' : 'IN_STOCK',
          },
        };
      }),
    };
  },
};

serveBareGraphQL(schema, root);
