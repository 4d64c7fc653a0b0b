import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { sqlCounterStorage } from '../../src/db/sql-stats';
import { adminToken, createMerchant, signUpCustomer } from '../factories/catalog';
import { eventually } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';

/**
 * The storefront's shared caches in one process (memory store): product pages by slug, category
 * tree and availability levels; no stampede on a cold page; invalidation by catalog writes, by
 * stock changes that move a level, and by order events from the outbox; checkout prices from
 * PostgreSQL whatever the cache shows. (Two processes on Redis: test/e2e/catalog-cache.test.ts.)
 */

const hex = () => randomBytes(6).toString('hex');
let t: TestApp;
let shop: { id: string; token: string };
let admin: string;

beforeAll(async () => {
  t = await startTestApp({
    CATALOG_CACHE_TTL_MS: '60000',
    CATALOG_CACHE_STALE_MS: '60000',
    SHIPPING_FEE: '0',
    LOW_STOCK_THRESHOLD: '5',
  });
  admin = await adminToken(t.gql);
  shop = await createMerchant(t.gql, admin, 'Cache Shop');
});
afterAll(() => t?.stop());

const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);
const cache = () => t.app.services.catalogCache;

const PAGE = `query($s: String!) { product(slug: $s) {
  id title slug media { url } seo { title }
  merchant { name } category { name parent { name } }
  priceRange { min { amount } }
  availability
  variants { id sku price { amount } availability }
} }`;

const page = async (slug: string) => {
  const r = await t.gql(PAGE, { s: slug });
  expect(r.errors).toBeUndefined();
  return { product: r.data.product, statements: r.extensions?.sqlStatements ?? 0 };
};

async function product(title: string, onHand: number, price = '10.00') {
  const parent = await t.gql(
    `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
    { i: { name: `Home ${title}`, slug: `home-${hex()}` } },
    admin,
  );
  const cat = await t.gql(
    `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
    { i: { name: `Lamps ${title}`, slug: `lamps-${hex()}`, parentId: parent.data.categoryCreate.id } },
    admin,
  );
  const r = await t.gql(
    `mutation($i: ProductCreateInput!) { productCreate(input: $i) { id slug variants { id } } }`,
    {
      i: {
        title,
        description: 'Cached.',
        categoryId: cat.data.categoryCreate.id,
        media: [{ url: 'https://cdn.example.com/x.jpg' }],
        variants: [{ sku: `C-${hex()}`, title: 'One', price, onHand, attributes: [] }],
      },
    },
    shop.token,
  );
  expect(r.errors).toBeUndefined();
  return {
    id: r.data.productCreate.id as string,
    slug: r.data.productCreate.slug as string,
    variantId: r.data.productCreate.variants[0].id as string,
  };
}

const loads = () => ({
  product: cache().products.stats.loads,
  slug: cache().slugs.stats.loads,
  levels: cache().levels.stats.loads,
  categories: cache().categories.stats.loads,
});

test('1,000 concurrent misses of one product page (by slug, then by id) make one SQL statement each', async () => {
  const p = await product(`Thousand Lamp ${hex()}`, 50);
  const counter = { statements: 0 };
  const em = () => t.app.orm.em.fork() as any;
  const [ids, pages] = await sqlCounterStorage.run(counter, async () => {
    const ids = await Promise.all(Array.from({ length: 1000 }, () => cache().productIdBySlug(em(), p.slug)));
    const pages = await Promise.all(Array.from({ length: 1000 }, () => cache().productsById(em(), [p.id])));
    return [ids, pages];
  });
  expect(new Set(ids)).toEqual(new Set([p.id]));
  expect(pages.every((m) => m.get(p.id)?.title.startsWith('Thousand Lamp'))).toBe(true);
  expect(counter.statements).toBe(2);
});

test('200 concurrent GraphQL requests for a cold product page: one read per kind, then none', async () => {
  const p = await product(`Stampede Lamp ${hex()}`, 50);
  const before = loads();
  const responses = await Promise.all(Array.from({ length: 200 }, () => t.gql(PAGE, { s: p.slug })));
  for (const r of responses) {
    expect(r.errors).toBeUndefined();
    expect(r.data.product).toMatchObject({
      id: p.id,
      availability: 'IN_STOCK',
      merchant: { name: 'Cache Shop' },
    });
  }
  const after = loads();
  expect(after.product - before.product).toBe(1);
  expect(after.slug - before.slug).toBe(1);
  expect(after.levels - before.levels).toBe(1);
  expect(after.categories - before.categories).toBeLessThanOrEqual(1);
  // All the requests together ran at most one statement per kind.
  const statements = responses.reduce((n, r) => n + (r.extensions?.sqlStatements ?? 0), 0);
  expect(statements).toBeLessThanOrEqual(4);
  // Warm: no SQL at all.
  expect((await page(p.slug)).statements).toBe(0);
});

test('a product write is seen at once: title, media, slug (the old slug stops resolving)', async () => {
  const p = await product(`Write Lamp ${hex()}`, 20);
  expect((await page(p.slug)).product.title).toMatch(/^Write Lamp/);
  const u = await t.gql(
    `mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { id } }`,
    { id: p.id, i: { title: 'Renamed Lamp', media: [{ url: 'https://cdn.example.com/new.jpg' }] } },
    shop.token,
  );
  expect(u.errors).toBeUndefined();
  const read = (await page(p.slug)).product;
  expect(read.title).toBe('Renamed Lamp');
  expect(read.media).toEqual([{ url: 'https://cdn.example.com/new.jpg' }]);

  const newSlug = `renamed-lamp-${hex()}`;
  await t.gql(
    `mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { id } }`,
    { id: p.id, i: { slug: newSlug } },
    shop.token,
  );
  expect((await t.gql(PAGE, { s: p.slug })).data.product).toBeNull();
  expect((await page(newSlug)).product.id).toBe(p.id);
});

test('inventorySet: a level that moves is seen at once; one that stays invalidates nothing', async () => {
  const p = await product(`Stock Lamp ${hex()}`, 20);
  expect((await page(p.slug)).product.availability).toBe('IN_STOCK');
  const SET = `mutation($v: ID!, $n: Int!) { inventorySet(variantId: $v, onHand: $n) { available } }`;

  // 20 → 15: still IN_STOCK, the cached level stays and the page still costs no SQL.
  const levelLoads = cache().levels.stats.loads;
  expect((await t.gql(SET, { v: p.variantId, n: 15 }, shop.token)).errors).toBeUndefined();
  expect((await cache().levels.peek([p.variantId])).get(p.variantId)).toBe('IN_STOCK');
  const same = await page(p.slug);
  expect(same.product.availability).toBe('IN_STOCK');
  expect(same.statements).toBe(0);
  expect(cache().levels.stats.loads).toBe(levelLoads);

  // 15 → 3: LOW_STOCK at once; → 0: OUT_OF_STOCK at once.
  await t.gql(SET, { v: p.variantId, n: 3 }, shop.token);
  expect((await page(p.slug)).product.variants[0].availability).toBe('LOW_STOCK');
  await t.gql(SET, { v: p.variantId, n: 0 }, shop.token);
  expect((await page(p.slug)).product.availability).toBe('OUT_OF_STOCK');
});

test('orders move stock: the outbox brings the new level within a second, and back when cancelled', async () => {
  const p = await product(`Order Lamp ${hex()}`, 2);
  expect((await page(p.slug)).product.availability).toBe('LOW_STOCK');
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [{ variantId: p.variantId, quantity: 2 }]);
  const c = (await checkout(t.gql, buyer.token, cart, hex())).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  const t0 = Date.now();
  await eventually(async () => (await page(p.slug)).product.availability === 'OUT_OF_STOCK', 5000);
  expect(Date.now() - t0).toBeLessThan(1000);

  const cancel = await t.gql(
    `mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`,
    { o: c.orders[0].id },
    buyer.token,
  );
  expect(cancel.data.orderCancel.__typename).toBe('Order');
  const t1 = Date.now();
  await eventually(async () => (await page(p.slug)).product.availability === 'LOW_STOCK', 5000);
  expect(Date.now() - t1).toBeLessThan(1000);
});

test('checkout charges the price in PostgreSQL at once, even while the cached page still shows the old one', async () => {
  const p = await product(`Price Lamp ${hex()}`, 50, '10.00');
  expect((await page(p.slug)).product.variants[0].price.amount).toBe('10.00');
  // A price change by a path that does not notify the cache (here SQL): the page is stale…
  await sql('update variant set price = 1500 where id = $1', [p.variantId]);
  expect((await page(p.slug)).product.variants[0].price.amount).toBe('10.00');
  // …but the cart and the checkout price from the database.
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [{ variantId: p.variantId, quantity: 2 }]);
  const c = (await checkout(t.gql, buyer.token, cart, hex())).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  expect(c.total.amount).toBe('30.00');
  expect(c.orders[0].lines[0].lineTotal.amount).toBe('30.00');
  const [order] = await sql('select total::int as total from shop_order where id = $1', [c.orders[0].id]);
  expect(order.total).toBe(3000);
});

test('the category tree is cached and a new category shows at once', async () => {
  const Q = `{ categories { slug } }`;
  await t.gql(Q);
  expect((await t.gql(Q)).extensions?.sqlStatements).toBe(0);
  const slug = `fresh-${hex()}`;
  await t.gql(
    `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
    { i: { name: 'Fresh', slug } },
    admin,
  );
  expect((await t.gql(Q)).data.categories.map((c: { slug: string }) => c.slug)).toContain(slug);
  expect(
    (await t.gql(`query($s: String) { category(slug: $s) { slug } }`, { s: slug })).data.category.slug,
  ).toBe(slug);
});

test('merchants still see exact stock counts on a cached page', async () => {
  const p = await product(`Count Lamp ${hex()}`, 12);
  await page(p.slug);
  await sql('update variant set reserved = 2 where id = $1', [p.variantId]);
  const r = await t.gql(
    `query($s: String!) { product(slug: $s) { variants { inventory { onHand reserved available } } } }`,
    { s: p.slug },
    shop.token,
  );
  expect(r.data.product.variants[0].inventory).toEqual({ onHand: 12, reserved: 2, available: 10 });
});
