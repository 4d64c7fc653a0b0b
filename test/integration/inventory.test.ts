import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

let t: TestApp;
let admin: string;
let owner: { id: string; token: string };
let other: { id: string; token: string };
let customer: { token: string };

beforeAll(async () => {
  // These tests move stock with SQL; the storefront's availability cache would show that only
  // after CATALOG_CACHE_TTL_MS (the cache is tested in catalog-cache.test.ts).
  t = await startTestApp({ CATALOG_CACHE_TTL_MS: '0' });
  admin = await adminToken(t.gql);
  owner = await createMerchant(t.gql, admin, 'Stock Owner');
  other = await createMerchant(t.gql, admin, 'Other Shop');
  customer = await signUpCustomer(t.gql);
});
afterAll(() => t?.stop());

const sql = async <T = any>(text: string, params: unknown[] = []): Promise<T[]> =>
  t.app.orm.em.fork().getConnection().execute(text, params);
const row = async (variantId: string) =>
  (
    await sql<{ on_hand: number; reserved: number; sold: number }>(
      `select on_hand, reserved, sold from variant where id = ?`,
      [variantId],
    )
  )[0];

const SET = `mutation($v: ID!, $n: Int!) { inventorySet(variantId: $v, onHand: $n) { onHand reserved available sold } }`;
const VARIANT_VIEW = `query($id: ID!) { product(id: $id) { availability variants { id availability inventory { onHand reserved available sold } } } }`;

async function newVariant(onHand = 10): Promise<{ productId: string; variantId: string }> {
  const p = await createProduct(t.gql, owner.token, { variants: [{ onHand }] });
  return { productId: p.id, variantId: p.variantIds[0] };
}

describe('inventorySet', () => {
  test('the owner sets stock on hand and gets the exact counts back', async () => {
    const { variantId } = await newVariant(10);
    const r = await t.gql(SET, { v: variantId, n: 42 }, owner.token);
    expect(r.errors).toBeUndefined();
    expect(r.data.inventorySet).toEqual({ onHand: 42, reserved: 0, available: 42, sold: 0 });
    expect(await row(variantId)).toEqual({ on_hand: 42, reserved: 0, sold: 0 });

    const zero = await t.gql(SET, { v: variantId, n: 0 }, owner.token);
    expect(zero.data.inventorySet).toEqual({ onHand: 0, reserved: 0, available: 0, sold: 0 });
  });

  test('an admin may set the stock of any variant', async () => {
    const { variantId } = await newVariant(10);
    const r = await t.gql(SET, { v: variantId, n: 7 }, admin);
    expect(r.data.inventorySet).toEqual({ onHand: 7, reserved: 0, available: 7, sold: 0 });
  });

  test("another merchant's variant is NOT_FOUND and unchanged", async () => {
    const { variantId } = await newVariant(10);
    const r = await t.gql(SET, { v: variantId, n: 99 }, other.token);
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(r.errors![0].message).toBe(`Variant ${variantId} not found`);
    expect(r.data).toBeNull();
    expect((await row(variantId)).on_hand).toBe(10);
  });

  test('a customer is FORBIDDEN and anonymous UNAUTHENTICATED; nothing changes', async () => {
    const { variantId } = await newVariant(10);
    expect(codeOf(await t.gql(SET, { v: variantId, n: 1 }, customer.token))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(SET, { v: variantId, n: 1 }))).toBe('UNAUTHENTICATED');
    expect((await row(variantId)).on_hand).toBe(10);
  });

  test('a negative or too large count is BAD_USER_INPUT and nothing changes', async () => {
    const { variantId } = await newVariant(10);
    const neg = await t.gql(SET, { v: variantId, n: -1 }, owner.token);
    expect(codeOf(neg)).toBe('BAD_USER_INPUT');
    expect(neg.errors![0].message).toBe('onHand must be an integer between 0 and 1000000000');
    expect(codeOf(await t.gql(SET, { v: variantId, n: 1_000_000_001 }, owner.token))).toBe('BAD_USER_INPUT');
    // Beyond 32 bits the GraphQL Int itself rejects the variable.
    expect(codeOf(await t.gql(SET, { v: variantId, n: 3_000_000_000 }, owner.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(SET, { v: variantId, n: 1.5 }, owner.token))).toBe('BAD_USER_INPUT');
    expect((await row(variantId)).on_hand).toBe(10);
  });

  test.each(['abc', '99999999999999999999', '9223372036854775808', '987654321', ''])(
    'variant id %j is NOT_FOUND',
    async (v) => {
      const r = await t.gql(SET, { v, n: 1 }, owner.token);
      expect(codeOf(r)).toBe('NOT_FOUND');
      expect(codeOf(await t.gql(SET, { v, n: 1 }, admin))).toBe('NOT_FOUND');
    },
  );
});

describe('Variant.inventory visibility', () => {
  test('exact counts for the owner merchant and admins; null for customers, anonymous users and other merchants', async () => {
    const { productId, variantId } = await newVariant(10);
    await sql(`update variant set reserved = 2, sold = 1 where id = ?`, [variantId]);
    const counts = { onHand: 10, reserved: 2, available: 7, sold: 1 };

    const as = async (token?: string) =>
      (await t.gql(VARIANT_VIEW, { id: productId }, token)).data.product.variants[0];
    expect(await as(owner.token)).toEqual({ id: variantId, availability: 'IN_STOCK', inventory: counts });
    expect(await as(admin)).toEqual({ id: variantId, availability: 'IN_STOCK', inventory: counts });
    expect(await as(customer.token)).toEqual({ id: variantId, availability: 'IN_STOCK', inventory: null });
    expect(await as(undefined)).toEqual({ id: variantId, availability: 'IN_STOCK', inventory: null });
    expect(await as(other.token)).toEqual({ id: variantId, availability: 'IN_STOCK', inventory: null });
  });
});

describe('availability thresholds (LOW_STOCK_THRESHOLD = 5)', () => {
  test('IN_STOCK above 5, LOW_STOCK at or below 5, OUT_OF_STOCK at 0, for the variant and the product', async () => {
    const { productId, variantId } = await newVariant(100);
    const seen: [number, string, string][] = [];
    for (const n of [6, 5, 1, 0, 100]) {
      expect((await t.gql(SET, { v: variantId, n }, owner.token)).errors).toBeUndefined();
      const p = (await t.gql(VARIANT_VIEW, { id: productId })).data.product;
      seen.push([n, p.variants[0].availability, p.availability]);
    }
    expect(seen).toEqual([
      [6, 'IN_STOCK', 'IN_STOCK'],
      [5, 'LOW_STOCK', 'LOW_STOCK'],
      [1, 'LOW_STOCK', 'LOW_STOCK'],
      [0, 'OUT_OF_STOCK', 'OUT_OF_STOCK'],
      [100, 'IN_STOCK', 'IN_STOCK'],
    ]);
  });

  test('availability counts what is available, not what is on hand', async () => {
    const { productId, variantId } = await newVariant(10);
    await sql(`update variant set reserved = 3, sold = 1 where id = ?`, [variantId]); // available 6
    expect((await t.gql(VARIANT_VIEW, { id: productId })).data.product.variants[0].availability).toBe(
      'IN_STOCK',
    );
    await sql(`update variant set reserved = 4 where id = ?`, [variantId]); // available 5
    expect((await t.gql(VARIANT_VIEW, { id: productId })).data.product.variants[0].availability).toBe(
      'LOW_STOCK',
    );
    await sql(`update variant set reserved = 9 where id = ?`, [variantId]); // available 0
    expect((await t.gql(VARIANT_VIEW, { id: productId })).data.product.variants[0].availability).toBe(
      'OUT_OF_STOCK',
    );
  });

  test('a product is as available as its best variant', async () => {
    const p = await createProduct(t.gql, owner.token, {
      variants: [{ onHand: 0 }, { onHand: 3 }, { onHand: 50 }],
    });
    const view = async () => (await t.gql(VARIANT_VIEW, { id: p.id })).data.product;
    expect((await view()).availability).toBe('IN_STOCK');
    await t.gql(SET, { v: p.variantIds[2], n: 0 }, owner.token);
    expect((await view()).availability).toBe('LOW_STOCK');
    await t.gql(SET, { v: p.variantIds[1], n: 0 }, owner.token);
    const v = await view();
    expect(v.availability).toBe('OUT_OF_STOCK');
    expect(v.variants.map((x: { availability: string }) => x.availability)).toEqual([
      'OUT_OF_STOCK',
      'OUT_OF_STOCK',
      'OUT_OF_STOCK',
    ]);
  });
});

describe('reserved and sold stock', () => {
  test('onHand below reserved + sold is BAD_USER_INPUT and nothing changes; at reserved + sold it is accepted', async () => {
    const { variantId } = await newVariant(10);
    // Simulate orders: 3 units held by unpaid orders, 2 sold.
    await sql(`update variant set reserved = 3, sold = 2 where id = ?`, [variantId]);

    const below = await t.gql(SET, { v: variantId, n: 4 }, owner.token);
    expect(codeOf(below)).toBe('BAD_USER_INPUT');
    expect(below.errors![0].message).toBe('onHand cannot be below reserved plus sold (5)');
    expect(below.data).toBeNull();
    expect(await row(variantId)).toEqual({ on_hand: 10, reserved: 3, sold: 2 });

    const exact = await t.gql(SET, { v: variantId, n: 5 }, owner.token);
    expect(exact.data.inventorySet).toEqual({ onHand: 5, reserved: 3, available: 0, sold: 2 });
    const more = await t.gql(SET, { v: variantId, n: 12 }, owner.token);
    expect(more.data.inventorySet).toEqual({ onHand: 12, reserved: 3, available: 7, sold: 2 });
  });

  test('the database CHECK constraint rejects any UPDATE making on_hand - reserved - sold negative', async () => {
    const { variantId } = await newVariant(10);
    await sql(`update variant set reserved = 3, sold = 2 where id = ?`, [variantId]);
    await expect(sql(`update variant set on_hand = 4 where id = ?`, [variantId])).rejects.toThrow(
      /variant_available_nonnegative/,
    );
    await expect(sql(`update variant set reserved = reserved + 6 where id = ?`, [variantId])).rejects.toThrow(
      /variant_available_nonnegative/,
    );
    await expect(sql(`update variant set sold = 9 where id = ?`, [variantId])).rejects.toThrow(
      /variant_available_nonnegative/,
    );
    await expect(
      sql(`update variant set on_hand = -1, reserved = 0, sold = 0 where id = ?`, [variantId]),
    ).rejects.toThrow(/check constraint/);
    expect(await row(variantId)).toEqual({ on_hand: 10, reserved: 3, sold: 2 });
  });
});

describe('concurrency', () => {
  test('30 concurrent inventorySet calls on one variant all succeed and the last write wins consistently', async () => {
    const { productId, variantId } = await newVariant(10);
    const values = Array.from({ length: 30 }, (_, i) => i); // includes 0, which flips the product out of stock
    const results = await Promise.all(values.map((n) => t.gql(SET, { v: variantId, n }, owner.token)));

    for (const [i, r] of results.entries()) {
      expect(r.status).toBe(200);
      expect(r.errors).toBeUndefined();
      expect(r.data.inventorySet).toEqual({ onHand: values[i], reserved: 0, available: values[i], sold: 0 });
    }
    const final = await row(variantId);
    expect(values).toContain(final.on_hand);
    expect(final).toMatchObject({ reserved: 0, sold: 0 });

    const view = (await t.gql(VARIANT_VIEW, { id: productId }, owner.token)).data.product;
    expect(view.variants[0].inventory).toEqual({
      onHand: final.on_hand,
      reserved: 0,
      available: final.on_hand,
      sold: 0,
    });
    // The search aggregate maintained by triggers agrees with the final count.
    const [p] = await sql<{ in_stock: boolean }>(`select in_stock from product where id = ?`, [productId]);
    expect(p.in_stock).toBe(final.on_hand > 0);
  });
});
