import { adminToken, createCategory, createMerchant, createProduct } from '../factories/catalog';
import { startTestApp, type TestApp } from '../support/app';

/*
 * A product listing costs a fixed number of SQL statements whatever the page size: every relation
 * of the page is loaded in one batch per kind (DESIGN.md convention 6).
 */

// ---------------------------------------------------------------- helpers

interface ModelProduct {
  id: string;
  title: string;
  merchant: string;
  category: string;
  parent: string;
  prices: number[];
  skus: string[];
  onHand: number[];
  colors: string[];
}

const MERCHANTS = ['Alder & Co', 'Birch Goods', 'Cedar Supply'];
/** Leaf categories and their roots: products sit in leaves only, so `parent` is a second batch. */
const TREE: [string, string][] = [
  ['Shirts', 'Clothing'],
  ['Coats', 'Clothing'],
  ['Lamps', 'Living'],
  ['Rugs', 'Living'],
  ['Tents', 'Outdoor'],
];
const PRODUCT_COUNT = 63;
const COLORS = ['red', 'green', 'blue'];
const SIZES = ['S', 'L'];

const LISTING = `query($n: Int!, $a: String, $f: ProductFilter, $s: ProductSort) {
  products(first: $n, after: $a, filter: $f, sort: $s) {
    totalCount
    facets { name values { value count } }
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title
      merchant { name }
      category { name parent { name } }
      variants { sku price { amount } availability attributes { name value } }
      priceRange { min { amount } max { amount } }
      availability
    } }
  }
}`;

let t: TestApp;
const products: ModelProduct[] = [];

async function listing(variables: { n: number; a?: string | null; f?: Record<string, unknown>; s?: string }) {
  const r = await t.gql(LISTING, variables);
  expect(r.errors).toBeUndefined();
  return { page: r.data.products, statements: r.extensions?.sqlStatements };
}

const amount = (minor: number) => (minor / 100).toFixed(2);

beforeAll(async () => {
  // The search cache would answer a repeated count and facet query without SQL; off, every
  // request here is measured cold.
  t = await startTestApp({ SEARCH_CACHE_TTL_MS: '0' });
  const admin = await adminToken(t.gql);
  const merchants = [];
  for (const name of MERCHANTS) merchants.push(await createMerchant(t.gql, admin, name));
  const roots = new Map<string, string>();
  const leaves: { id: string; name: string; parent: string }[] = [];
  for (const [leaf, root] of TREE) {
    if (!roots.has(root)) roots.set(root, await createCategory(t.gql, admin, root));
    leaves.push({ id: await createCategory(t.gql, admin, leaf, roots.get(root)), name: leaf, parent: root });
  }

  for (let i = 0; i < PRODUCT_COUNT; i++) {
    const merchant = i % MERCHANTS.length;
    const leaf = leaves[i % leaves.length];
    const prices = [500 + i * 137, 900 + i * 211];
    const skus = [`N1-${i}-A`, `N1-${i}-B`];
    const onHand = [i % 4, 20];
    const colors = [COLORS[i % COLORS.length], COLORS[(i + 1) % COLORS.length]];
    const title = `${leaf.name.slice(0, -1)} number ${i}`;
    const created = await createProduct(t.gql, merchants[merchant].token, {
      title,
      categoryId: leaf.id,
      variants: prices.map((p, j) => ({
        sku: skus[j],
        price: amount(p),
        onHand: onHand[j],
        attributes: [
          { name: 'color', value: colors[j] },
          { name: 'size', value: SIZES[j] },
        ],
      })),
    });
    products.push({
      id: created.id,
      title,
      merchant: MERCHANTS[merchant],
      category: leaf.name,
      parent: leaf.parent,
      prices,
      skus,
      onHand,
      colors,
    });
  }
});
afterAll(() => t?.stop());

// ---------------------------------------------------------------- tests

describe('SQL statements of a product listing', () => {
  /*
   * The 6 statements of one listing request:
   *   1. the page: `select ... from product p ... limit first + 1` (search.sql.ts pageStatement)
   *   2. totalCount and all facets in one statement (statsStatement), started with the page's
   *      field resolvers
   *   3. merchants of the page: one `select ... from merchant where id in (...)` (DataLoader)
   *   4. categories of the page: one `select ... from category where id in (...)`
   *   5. variants of the page: one `select ... from variant where product_id in (...)`, shared by
   *      variants, priceRange and availability
   *   6. parents of those categories: one more `select ... from category where id in (...)`, a tick
   *      later because the parent ids are known only once the categories are loaded
   * No statement per product, per variant or per category.
   */
  const STATEMENTS = 6;

  test('50 products cost exactly as many statements as 5', async () => {
    const five = await listing({ n: 5 });
    const fifty = await listing({ n: 50 });
    expect(five.page.edges).toHaveLength(5);
    expect(fifty.page.edges).toHaveLength(50);
    expect(fifty.statements).toBe(five.statements);
    expect(fifty.statements).toBe(STATEMENTS);
  });

  test('the batched page is correct: every relation belongs to its own product', async () => {
    const { page } = await listing({ n: 50 });
    const expected = [...products].reverse().slice(0, 50);
    expect(page.totalCount).toBe(PRODUCT_COUNT);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.edges.map((e: any) => e.node)).toEqual(
      expected.map((p) => ({
        id: p.id,
        title: p.title,
        merchant: { name: p.merchant },
        category: { name: p.category, parent: { name: p.parent } },
        variants: p.skus.map((sku, j) => ({
          sku,
          price: { amount: amount(p.prices[j]) },
          // LOW_STOCK at 5 or fewer available (the default threshold).
          availability: p.onHand[j] === 0 ? 'OUT_OF_STOCK' : p.onHand[j] <= 5 ? 'LOW_STOCK' : 'IN_STOCK',
          attributes: [
            { name: 'color', value: p.colors[j] },
            { name: 'size', value: SIZES[j] },
          ],
        })),
        priceRange: {
          min: { amount: amount(Math.min(...p.prices)) },
          max: { amount: amount(Math.max(...p.prices)) },
        },
        availability: 'IN_STOCK',
      })),
    );
    // The page spans every merchant and every category of the tree.
    const nodes = page.edges.map((e: any) => e.node);
    expect(new Set(nodes.map((n: any) => n.merchant.name)).size).toBe(MERCHANTS.length);
    expect(new Set(nodes.map((n: any) => n.category.name)).size).toBe(TREE.length);
  });

  test('the count does not grow with a filter, another sort or a later page', async () => {
    const filtered = await listing({
      n: 50,
      f: { query: 'number', attributes: [{ name: 'color', values: ['red', 'blue'] }] },
      s: 'PRICE_ASC',
    });
    expect(filtered.page.edges.length).toBeGreaterThan(5);
    expect(filtered.statements).toBe(STATEMENTS);

    const first = await listing({ n: 50 });
    const second = await listing({ n: 50, a: first.page.pageInfo.endCursor });
    expect(second.page.edges).toHaveLength(PRODUCT_COUNT - 50);
    expect(second.statements).toBe(STATEMENTS);
  });

  test('without totalCount and facets the count query is not run', async () => {
    const r = await t.gql(`{ products(first: 50) { edges { node { id merchant { name } } } } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.products.edges).toHaveLength(50);
    // The page and one merchant batch.
    expect(r.extensions?.sqlStatements).toBe(2);
  });
});
