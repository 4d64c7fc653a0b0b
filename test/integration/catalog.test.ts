import {
  adminToken,
  createCategory,
  createMerchant,
  createProduct,
  signUpCustomer,
} from '../factories/catalog';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

let t: TestApp;
let admin: string;
let shopA: { id: string; token: string };
let shopB: { id: string; token: string };
let customer: { token: string };

beforeAll(async () => {
  t = await startTestApp();
  admin = await adminToken(t.gql);
  shopA = await createMerchant(t.gql, admin, 'Shop A');
  shopB = await createMerchant(t.gql, admin, 'Shop B');
  customer = await signUpCustomer(t.gql);
});
afterAll(() => t?.stop());

const sql = async <T = any>(text: string, params: unknown[] = []): Promise<T[]> =>
  t.app.orm.em.fork().getConnection().execute(text, params);
const counts = async () => {
  const [r] = await sql<{ products: number; variants: number }>(
    'select (select count(*)::int from product) as products, (select count(*)::int from variant) as variants',
  );
  return r;
};

const CATEGORY_CREATE = `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id name slug parent { id slug } } }`;
const CATEGORIES = `{ categories { id name slug parent { id slug } } }`;

const PRODUCT_FIELDS = `id title description collections images stockPolicy
  merchant { id name } category { id slug }
  variants { id sku title attributes { name value } price { amount currency } availability }
  priceRange { min { amount currency } max { amount currency } }
  availability`;
const PRODUCT_CREATE = `mutation($i: ProductCreateInput!) { productCreate(input: $i) { ${PRODUCT_FIELDS} } }`;
const PRODUCT_UPDATE = `mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { ${PRODUCT_FIELDS} } }`;
const PRODUCT = `query($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;

let skuSeq = 0;
const sku = (prefix = 'SKU') => `${prefix}-${++skuSeq}-${Date.now().toString(36)}`;
const variant = (over: Record<string, unknown> = {}) => ({
  sku: sku(),
  title: 'Default',
  price: '10.00',
  onHand: 10,
  attributes: [],
  ...over,
});
const productInput = (over: Record<string, unknown> = {}) => ({
  title: 'Plain Tee',
  description: 'A plain cotton tee.',
  variants: [variant()],
  ...over,
});

describe('categoryCreate', () => {
  const input = (slug: string, parentId?: string) => ({ name: `Category ${slug}`, slug, parentId });

  test('is ADMIN only: UNAUTHENTICATED anonymous, FORBIDDEN for customers and merchants, nothing written', async () => {
    const anon = await t.gql(CATEGORY_CREATE, { i: input('anon-cat') });
    expect(codeOf(anon)).toBe('UNAUTHENTICATED');
    expect(anon.data).toBeNull();
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: input('customer-cat') }, customer.token))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: input('merchant-cat') }, shopA.token))).toBe('FORBIDDEN');
    const [{ n }] = await sql(
      `select count(*)::int as n from category where slug in ('anon-cat', 'customer-cat', 'merchant-cat')`,
    );
    expect(n).toBe(0);
  });

  test('an admin builds a tree; categories lists parents before children with parent links', async () => {
    const root = await t.gql(CATEGORY_CREATE, { i: { name: ' Apparel ', slug: 'apparel' } }, admin);
    expect(root.errors).toBeUndefined();
    expect(root.data.categoryCreate).toEqual({
      id: expect.stringMatching(/^\d+$/),
      name: 'Apparel',
      slug: 'apparel',
      parent: null,
    });
    const rootId = root.data.categoryCreate.id;

    const child = await t.gql(
      CATEGORY_CREATE,
      { i: { name: 'Shirts', slug: 'shirts', parentId: rootId } },
      admin,
    );
    expect(child.data.categoryCreate).toEqual({
      id: expect.any(String),
      name: 'Shirts',
      slug: 'shirts',
      parent: { id: rootId, slug: 'apparel' },
    });
    const childId = child.data.categoryCreate.id;

    const grandchild = await t.gql(
      CATEGORY_CREATE,
      { i: { name: 'Polo Shirts', slug: 'polo-shirts', parentId: childId } },
      admin,
    );
    const grandchildId = grandchild.data.categoryCreate.id;
    const other = await t.gql(CATEGORY_CREATE, { i: { name: 'Books', slug: 'books' } }, admin);
    const otherId = other.data.categoryCreate.id;

    // Anyone may read the tree.
    const list = await t.gql(CATEGORIES);
    expect(list.errors).toBeUndefined();
    const mine = list.data.categories.filter((c: { id: string }) =>
      [rootId, childId, grandchildId, otherId].includes(c.id),
    );
    expect(mine).toEqual([
      { id: rootId, name: 'Apparel', slug: 'apparel', parent: null },
      { id: childId, name: 'Shirts', slug: 'shirts', parent: { id: rootId, slug: 'apparel' } },
      { id: grandchildId, name: 'Polo Shirts', slug: 'polo-shirts', parent: { id: childId, slug: 'shirts' } },
      { id: otherId, name: 'Books', slug: 'books', parent: null },
    ]);
    // Over the whole list, every parent comes before its children.
    const position = new Map<string, number>(
      list.data.categories.map((c: { id: string }, i: number) => [c.id, i]),
    );
    for (const [i, c] of list.data.categories.entries()) {
      if (c.parent) expect(position.get(c.parent.id)!).toBeLessThan(i);
    }
    // The path that search uses for "this category and its descendants".
    const [row] = await sql(`select path::text as path from category where id = ?`, [grandchildId]);
    expect(row.path).toBe(`{${rootId},${childId},${grandchildId}}`);
  });

  test('a duplicate slug is BAD_USER_INPUT and writes nothing', async () => {
    expect((await t.gql(CATEGORY_CREATE, { i: input('kitchen') }, admin)).data.categoryCreate.slug).toBe(
      'kitchen',
    );
    const dup = await t.gql(CATEGORY_CREATE, { i: { name: 'Another kitchen', slug: 'kitchen' } }, admin);
    expect(codeOf(dup)).toBe('BAD_USER_INPUT');
    expect(dup.errors![0].message).toBe('Slug "kitchen" is taken');
    const [{ n }] = await sql(`select count(*)::int as n from category where slug = 'kitchen'`);
    expect(n).toBe(1);
  });

  test.each([
    'Bad Slug',
    'UPPER',
    'trailing-',
    '-leading',
    'double--dash',
    'under_score',
    '',
    'x'.repeat(101),
  ])('slug %j is BAD_USER_INPUT', async (slug) => {
    const r = await t.gql(CATEGORY_CREATE, { i: { name: 'Bad', slug } }, admin);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.data).toBeNull();
  });

  test('an empty, blank or overlong name is BAD_USER_INPUT and writes nothing', async () => {
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: { name: '', slug: 'no-name' } }, admin))).toBe(
      'BAD_USER_INPUT',
    );
    expect(
      codeOf(await t.gql(CATEGORY_CREATE, { i: { name: 'n'.repeat(101), slug: 'long-name' } }, admin)),
    ).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: { name: '   ', slug: 'blank-name' } }, admin))).toBe(
      'BAD_USER_INPUT',
    );
    const [{ n }] = await sql(
      `select count(*)::int as n from category where slug in ('no-name', 'long-name', 'blank-name')`,
    );
    expect(n).toBe(0);
  });

  test('an unknown parentId is NOT_FOUND; a malformed one is BAD_USER_INPUT; nothing is written', async () => {
    const unknown = await t.gql(CATEGORY_CREATE, { i: input('orphan', '987654321') }, admin);
    expect(codeOf(unknown)).toBe('NOT_FOUND');
    expect(unknown.errors![0].message).toBe('Category 987654321 not found');
    // 19 digits but beyond the 64-bit range: names nothing rather than breaking the query.
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: input('orphan-2', '9999999999999999999') }, admin))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(await t.gql(CATEGORY_CREATE, { i: input('orphan-3', 'abc') }, admin))).toBe(
      'BAD_USER_INPUT',
    );
    const [{ n }] = await sql(`select count(*)::int as n from category where slug like 'orphan%'`);
    expect(n).toBe(0);
  });
});

describe('productCreate', () => {
  test('a merchant creates a product with variants, attributes and prices, read back exactly', async () => {
    const categoryId = await createCategory(t.gql, admin, 'Tees');
    const r = await t.gql(
      PRODUCT_CREATE,
      {
        i: {
          title: '  Classic Tee  ',
          description: 'Soft cotton.',
          categoryId,
          collections: ['summer-sale', ' summer-sale ', 'basics'],
          images: ['https://cdn.example.com/tee.jpg'],
          variants: [
            {
              sku: 'TEE-RED-M',
              title: 'Red / M',
              price: '19.99',
              onHand: 12,
              attributes: [
                { name: 'color', value: 'red' },
                { name: 'size', value: 'M' },
              ],
            },
            {
              sku: 'TEE-BLUE-L',
              title: 'Blue / L',
              price: '24',
              onHand: 3,
              attributes: [
                { name: 'color', value: ' blue ' },
                { name: 'size', value: 'L' },
              ],
            },
            { sku: 'TEE-GREEN-S', title: 'Green / S', price: '0.5', onHand: 0, attributes: [] },
          ],
        },
      },
      shopA.token,
    );
    expect(r.errors).toBeUndefined();
    const p = r.data.productCreate;
    expect(p).toEqual({
      id: expect.stringMatching(/^\d+$/),
      title: 'Classic Tee',
      description: 'Soft cotton.',
      collections: ['summer-sale', 'basics'],
      images: ['https://cdn.example.com/tee.jpg'],
      stockPolicy: 'RESERVE_ON_ORDER',
      merchant: { id: shopA.id, name: 'Shop A' },
      category: { id: categoryId, slug: expect.stringMatching(/^tees-/) },
      variants: [
        {
          id: expect.any(String),
          sku: 'TEE-RED-M',
          title: 'Red / M',
          attributes: [
            { name: 'color', value: 'red' },
            { name: 'size', value: 'M' },
          ],
          price: { amount: '19.99', currency: 'USD' },
          availability: 'IN_STOCK',
        },
        {
          id: expect.any(String),
          sku: 'TEE-BLUE-L',
          title: 'Blue / L',
          attributes: [
            { name: 'color', value: 'blue' },
            { name: 'size', value: 'L' },
          ],
          price: { amount: '24.00', currency: 'USD' },
          availability: 'LOW_STOCK',
        },
        {
          id: expect.any(String),
          sku: 'TEE-GREEN-S',
          title: 'Green / S',
          attributes: [],
          price: { amount: '0.50', currency: 'USD' },
          availability: 'OUT_OF_STOCK',
        },
      ],
      priceRange: { min: { amount: '0.50', currency: 'USD' }, max: { amount: '24.00', currency: 'USD' } },
      availability: 'IN_STOCK',
    });

    // A fresh read (another request) returns the same product.
    const again = await t.gql(PRODUCT, { id: p.id });
    expect(again.data.product).toEqual(p);
    // Prices are stored as integer minor units.
    const rows = await sql(
      `select sku, price::int as price, on_hand from variant where product_id = ? order by id`,
      [p.id],
    );
    expect(rows).toEqual([
      { sku: 'TEE-RED-M', price: 1999, on_hand: 12 },
      { sku: 'TEE-BLUE-L', price: 2400, on_hand: 3 },
      { sku: 'TEE-GREEN-S', price: 50, on_hand: 0 },
    ]);
  });

  test('product availability is the best of its variants', async () => {
    const low = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ variants: [variant({ onHand: 0 }), variant({ onHand: 5 })] }) },
      shopA.token,
    );
    expect(low.data.productCreate.availability).toBe('LOW_STOCK');
    const out = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ variants: [variant({ onHand: 0 }), variant({ onHand: 0 })] }) },
      shopA.token,
    );
    expect(out.data.productCreate.availability).toBe('OUT_OF_STOCK');
    const single = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ variants: [variant({ price: '7.05', onHand: 6 })] }) },
      shopA.token,
    );
    expect(single.data.productCreate).toMatchObject({
      availability: 'IN_STOCK',
      priceRange: { min: { amount: '7.05', currency: 'USD' }, max: { amount: '7.05', currency: 'USD' } },
      category: null,
      collections: [],
      images: [],
    });
  });

  test('stockPolicy defaults to RESERVE_ON_ORDER and can be set explicitly', async () => {
    for (const policy of ['DEDUCT_ON_ORDER', 'DEDUCT_ON_PAYMENT', 'RESERVE_ON_ORDER']) {
      const r = await t.gql(PRODUCT_CREATE, { i: productInput({ stockPolicy: policy }) }, shopA.token);
      expect(r.data.productCreate.stockPolicy).toBe(policy);
      const [row] = await sql(`select stock_policy from product where id = ?`, [r.data.productCreate.id]);
      expect(row.stock_policy).toBe(policy);
    }
    const explicitNull = await t.gql(PRODUCT_CREATE, { i: productInput({ stockPolicy: null }) }, shopA.token);
    expect(explicitNull.data.productCreate.stockPolicy).toBe('RESERVE_ON_ORDER');
    const bogus = await t.gql(PRODUCT_CREATE, { i: productInput({ stockPolicy: 'WHENEVER' }) }, shopA.token);
    expect(codeOf(bogus)).toBe('BAD_USER_INPUT');
  });

  test('is MERCHANT only: UNAUTHENTICATED anonymous, FORBIDDEN for customers and admins, nothing written', async () => {
    const before = await counts();
    expect(codeOf(await t.gql(PRODUCT_CREATE, { i: productInput() }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(PRODUCT_CREATE, { i: productInput() }, customer.token))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(PRODUCT_CREATE, { i: productInput() }, admin))).toBe('FORBIDDEN');
    expect(await counts()).toEqual(before);
  });

  test('a SKU twice in one input is BAD_USER_INPUT and nothing is written', async () => {
    const before = await counts();
    const r = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ variants: [variant({ sku: 'TWICE-1' }), variant({ sku: 'TWICE-1' })] }) },
      shopA.token,
    );
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].message).toBe('SKU TWICE-1 appears twice');
    expect(r.data).toBeNull();
    expect(await counts()).toEqual(before);
  });

  test('a SKU used by another product of the same merchant is BAD_USER_INPUT and the whole product is rolled back', async () => {
    await createProduct(t.gql, shopA.token, { variants: [{ sku: 'SHARED-SKU' }] });
    const before = await counts();
    const r = await t.gql(
      PRODUCT_CREATE,
      {
        i: productInput({
          title: 'Rolled back',
          variants: [variant({ sku: 'FRESH-SKU-1' }), variant({ sku: 'SHARED-SKU' })],
        }),
      },
      shopA.token,
    );
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].message).toBe('A variant SKU is already used by another product of this merchant');
    expect(await counts()).toEqual(before);
    const [{ n }] = await sql(`select count(*)::int as n from product where title = 'Rolled back'`);
    expect(n).toBe(0);
    const [{ m }] = await sql(`select count(*)::int as m from variant where sku = 'FRESH-SKU-1'`);
    expect(m).toBe(0);
  });

  test('the same SKU at a different merchant is fine', async () => {
    await createProduct(t.gql, shopA.token, { variants: [{ sku: 'CROSS-SHOP' }] });
    const r = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ variants: [variant({ sku: 'CROSS-SHOP' })] }) },
      shopB.token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.productCreate.merchant.id).toBe(shopB.id);
    expect(r.data.productCreate.variants[0].sku).toBe('CROSS-SHOP');
    const [{ n }] = await sql(`select count(*)::int as n from variant where sku = 'CROSS-SHOP'`);
    expect(n).toBe(2);
  });

  describe('invalid input is BAD_USER_INPUT and writes nothing', () => {
    const cases: [string, () => Record<string, unknown>][] = [
      ['negative price', () => productInput({ variants: [variant({ price: '-1.00' })] })],
      ['price with three decimals', () => productInput({ variants: [variant({ price: '1.234' })] })],
      ['price that is not a number', () => productInput({ variants: [variant({ price: 'abc' })] })],
      ['price in exponent notation', () => productInput({ variants: [variant({ price: '1e5' })] })],
      ['price too large', () => productInput({ variants: [variant({ price: '999999999999.99' })] })],
      ['negative onHand', () => productInput({ variants: [variant({ onHand: -1 })] })],
      ['onHand above a billion', () => productInput({ variants: [variant({ onHand: 1_000_000_001 })] })],
      ['empty variants', () => productInput({ variants: [] })],
      ['101 variants', () => productInput({ variants: Array.from({ length: 101 }, () => variant()) })],
      ['title of 201 characters', () => productInput({ title: 't'.repeat(201) })],
      ['empty title', () => productInput({ title: '' })],
      ['blank title', () => productInput({ title: '   ' })],
      ['blank variant title', () => productInput({ variants: [variant({ title: ' ' })] })],
      [
        'blank attribute name',
        () => productInput({ variants: [variant({ attributes: [{ name: '  ', value: 'red' }] })] }),
      ],
      [
        'blank attribute value',
        () => productInput({ variants: [variant({ attributes: [{ name: 'color', value: '  ' }] })] }),
      ],
      ['21 collections', () => productInput({ collections: Array.from({ length: 21 }, (_, i) => `c${i}`) })],
      ['empty collection name', () => productInput({ collections: [''] })],
      ['image that is not a URL', () => productInput({ images: ['not a url'] })],
      ['image with a non-http scheme', () => productInput({ images: ['javascript:alert(1)'] })],
      ['bad SKU characters', () => productInput({ variants: [variant({ sku: 'has space' })] })],
      [
        'attribute name with "="',
        () => productInput({ variants: [variant({ attributes: [{ name: 'a=b', value: 'x' }] })] }),
      ],
      [
        'empty attribute value',
        () => productInput({ variants: [variant({ attributes: [{ name: 'color', value: '' }] })] }),
      ],
      ['malformed categoryId', () => productInput({ categoryId: 'abc' })],
    ];
    test.each(cases)('%s', async (_name, make) => {
      const before = await counts();
      const r = await t.gql(PRODUCT_CREATE, { i: make() }, shopA.token);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.status).not.toBe(500);
      expect(r.data ?? null).toBeNull();
      expect(await counts()).toEqual(before);
    });

    test('a validation error names the failing field', async () => {
      const r = await t.gql(
        PRODUCT_CREATE,
        { i: productInput({ variants: [variant({ price: '1.234' })] }) },
        shopA.token,
      );
      expect(r.errors![0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        fields: [
          { field: 'variants.0.price', message: 'price must be a non-negative amount such as "19.99"' },
        ],
      });
    });
  });

  test('an unknown categoryId is NOT_FOUND and writes nothing', async () => {
    const before = await counts();
    const r = await t.gql(PRODUCT_CREATE, { i: productInput({ categoryId: '424242' }) }, shopA.token);
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(r.errors![0].message).toBe('Category 424242 not found');
    const huge = await t.gql(
      PRODUCT_CREATE,
      { i: productInput({ categoryId: '9999999999999999999' }) },
      shopA.token,
    );
    expect(codeOf(huge)).toBe('NOT_FOUND');
    expect(await counts()).toEqual(before);
  });
});

describe('productUpdate', () => {
  test('a merchant updates an own product; only the given fields change', async () => {
    const categoryId = await createCategory(t.gql, admin, 'Mugs');
    const { id } = await createProduct(t.gql, shopA.token, {
      title: 'Mug',
      description: 'White mug',
      collections: ['kitchen'],
    });
    const r = await t.gql(
      PRODUCT_UPDATE,
      {
        id,
        i: {
          title: ' Big Mug ',
          categoryId,
          collections: ['kitchen', 'gifts', 'gifts'],
          images: ['http://img.example.com/mug.png'],
          stockPolicy: 'DEDUCT_ON_PAYMENT',
        },
      },
      shopA.token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.productUpdate).toMatchObject({
      id,
      title: 'Big Mug',
      description: 'White mug',
      collections: ['kitchen', 'gifts'],
      images: ['http://img.example.com/mug.png'],
      stockPolicy: 'DEDUCT_ON_PAYMENT',
      category: { id: categoryId },
      merchant: { id: shopA.id },
    });
    expect((await t.gql(PRODUCT, { id })).data.product).toEqual(r.data.productUpdate);

    const cleared = await t.gql(
      PRODUCT_UPDATE,
      { id, i: { categoryId: null, description: 'Now bigger' } },
      shopA.token,
    );
    expect(cleared.data.productUpdate).toMatchObject({
      title: 'Big Mug',
      description: 'Now bigger',
      category: null,
    });
  });

  test("another merchant's product is NOT_FOUND (not FORBIDDEN) and stays unchanged", async () => {
    const { id } = await createProduct(t.gql, shopA.token, { title: 'Mine' });
    const r = await t.gql(PRODUCT_UPDATE, { id, i: { title: 'Stolen' } }, shopB.token);
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(r.errors![0].message).toBe(`Product ${id} not found`);
    expect(r.data).toBeNull();
    expect((await t.gql(PRODUCT, { id })).data.product.title).toBe('Mine');
    const [row] = await sql(`select title from product where id = ?`, [id]);
    expect(row.title).toBe('Mine');
  });

  test('an admin may update any product', async () => {
    const { id } = await createProduct(t.gql, shopB.token, { title: 'Before' });
    const r = await t.gql(PRODUCT_UPDATE, { id, i: { title: 'Moderated' } }, admin);
    expect(r.errors).toBeUndefined();
    expect(r.data.productUpdate).toMatchObject({ id, title: 'Moderated', merchant: { id: shopB.id } });
  });

  test('anonymous is UNAUTHENTICATED and a customer FORBIDDEN', async () => {
    const { id } = await createProduct(t.gql, shopA.token, { title: 'Guarded' });
    expect(codeOf(await t.gql(PRODUCT_UPDATE, { id, i: { title: 'x' } }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(PRODUCT_UPDATE, { id, i: { title: 'x' } }, customer.token))).toBe('FORBIDDEN');
    expect((await t.gql(PRODUCT, { id })).data.product.title).toBe('Guarded');
  });

  test.each(['123456789', 'abc', '99999999999999999999', '9223372036854775808', '-1', '1.5', ''])(
    'unknown or garbage id %j is NOT_FOUND, never INTERNAL_SERVER_ERROR',
    async (id) => {
      const r = await t.gql(PRODUCT_UPDATE, { id, i: { title: 'x' } }, shopA.token);
      expect(codeOf(r)).toBe('NOT_FOUND');
      expect(r.status).toBe(200);
      const asAdmin = await t.gql(PRODUCT_UPDATE, { id, i: { title: 'x' } }, admin);
      expect(codeOf(asAdmin)).toBe('NOT_FOUND');
    },
  );

  test('an unknown categoryId is NOT_FOUND and invalid fields are BAD_USER_INPUT; the product is unchanged', async () => {
    const { id } = await createProduct(t.gql, shopA.token, { title: 'Steady' });
    expect(codeOf(await t.gql(PRODUCT_UPDATE, { id, i: { categoryId: '77777777' } }, shopA.token))).toBe(
      'NOT_FOUND',
    );
    expect(
      codeOf(await t.gql(PRODUCT_UPDATE, { id, i: { categoryId: '9999999999999999999' } }, shopA.token)),
    ).toBe('NOT_FOUND');
    for (const i of [
      { title: '' },
      { title: '  ' },
      { title: 't'.repeat(201) },
      { collections: Array.from({ length: 21 }, (_, n) => `c${n}`) },
      { images: ['ftp://example.com/x.png'] },
      { categoryId: 'abc' },
      { stockPolicy: 'SOMETIMES' },
    ]) {
      const r = await t.gql(PRODUCT_UPDATE, { id, i }, shopA.token);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
    }
    const [row] = await sql(
      `select title, category_id, collections::text as collections, images::text as images, stock_policy from product where id = ?`,
      [id],
    );
    expect(row).toEqual({
      title: 'Steady',
      category_id: null,
      collections: '{}',
      images: '{}',
      stock_policy: 'RESERVE_ON_ORDER',
    });
  });
});

describe('product(id)', () => {
  test.each(['abc', '99999999999999999999', '9223372036854775808', '-5', '', '1 OR 1=1', '424242424'])(
    '%j is null',
    async (id) => {
      const r = await t.gql(`query($id: ID!) { product(id: $id) { id } }`, { id });
      expect(r.errors).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.data).toEqual({ product: null });
    },
  );

  test('an existing product is found by anyone', async () => {
    const { id } = await createProduct(t.gql, shopA.token, { title: 'Public' });
    expect((await t.gql(`query($id: ID!) { product(id: $id) { id title } }`, { id })).data.product).toEqual({
      id,
      title: 'Public',
    });
    expect(
      (await t.gql(`query($id: ID!) { product(id: $id) { id title } }`, { id }, customer.token)).data.product,
    ).toEqual({ id, title: 'Public' });
  });
});
