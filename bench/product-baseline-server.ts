import { buildSchema } from 'graphql';
import { Pool } from 'pg';
import { serveBareGraphQL } from './bare-graphql';
import { PRODUCT_COLUMNS } from '../src/modules/catalog/search.sql';

/**
 * The product-page baseline: a bare node:http + pg + graphql-js server answering `product(slug)`
 * with the statements this server runs when its catalog cache is off (slug, product, then
 * variants, merchant and category together), with none of the framework.
 */
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE ?? 10),
});
const LOW_STOCK = Number(process.env.LOW_STOCK_THRESHOLD ?? 5);

const schema = buildSchema(`
  type Money { amount: String! currency: String! }
  type PriceRange { min: Money! max: Money! }
  type Merchant { name: String! }
  type Category { name: String! slug: String! }
  type Image { url: String! alt: String width: Int height: Int }
  type Seo { title: String description: String }
  type Attribute { name: String! value: String! }
  type Variant { id: ID! sku: String! title: String! price: Money! availability: String! attributes: [Attribute!]! }
  type Product { id: ID! title: String! slug: String! description: String! media: [Image!]! seo: Seo!
    merchant: Merchant! category: Category priceRange: PriceRange! availability: String! variants: [Variant!]! }
  type Query { product(slug: String): Product }
`);

const money = (minor: number) => ({ amount: (minor / 100).toFixed(2), currency: 'USD' });
const level = (v: { on_hand: number; reserved: number; sold: number }) => {
  const n = Math.max(0, v.on_hand - v.reserved - v.sold);
  return n === 0 ? 'OUT_OF_STOCK' : n <= LOW_STOCK ? 'LOW_STOCK' : 'IN_STOCK';
};
const RANK = { IN_STOCK: 2, LOW_STOCK: 1, OUT_OF_STOCK: 0 } as Record<string, number>;

function seoDescription(text: string): string | null {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= 160) return t || null;
  const cut = t.slice(0, 157);
  const space = cut.lastIndexOf(' ');
  return `${(space > 100 ? cut.slice(0, space) : cut).replace(/[\s,.;:]+$/, '')}…`;
}

const root = {
  async product(args: { slug: string }, ctx: { statements: number }) {
    ctx.statements += 2;
    const found = await pool.query('select id from product where slug = $1', [args.slug]);
    if (!found.rows[0]) return null;
    const [p] = (
      await pool.query(`select ${PRODUCT_COLUMNS} from product p where id = any($1::bigint[])`, [
        [found.rows[0].id],
      ])
    ).rows;
    ctx.statements += 3;
    const [variants, merchants, categories] = await Promise.all([
      pool.query('select * from variant where product_id = any($1::bigint[]) order by id', [[p.id]]),
      pool.query('select * from merchant p where id = any($1::bigint[])', [[p.merchant_id]]),
      pool.query('select * from category p where id = any($1::bigint[])', [[p.category_id]]),
    ]);
    const prices = variants.rows.map((v) => Number(v.price));
    const levels = variants.rows.map(level);
    return {
      id: p.id,
      title: p.title,
      slug: p.slug,
      description: p.description,
      media: p.media.map((m: any) => ({ alt: null, width: null, height: null, ...m })),
      seo: { title: p.seo_title || p.title, description: p.seo_description || seoDescription(p.description) },
      merchant: merchants.rows[0],
      category: categories.rows[0] ?? null,
      priceRange: { min: money(Math.min(...prices)), max: money(Math.max(...prices)) },
      availability: levels.reduce((best, l) => (RANK[l] > RANK[best] ? l : best), 'OUT_OF_STOCK'),
      variants: variants.rows.map((v, i) => ({
        id: v.id,
        sku: v.sku,
        title: v.title,
        price: money(Number(v.price)),
        availability: levels[i],
        attributes: v.attributes,
      })),
    };
  },
};

serveBareGraphQL(schema, root);
