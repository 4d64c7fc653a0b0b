import { randomBytes } from 'node:crypto';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { ADDRESS, createCart } from '../factories/shop';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/*
 * Exact amounts through checkoutCreate, with the defaults: shipping 4.99 per merchant order, free
 * from 50.00 of goods after discounts; one point is worth 0.01 and may pay at most 50 %.
 */

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp({
    SHIPPING_FEE: '4.99',
    FREE_SHIPPING_ABOVE: '50.00',
    POINT_VALUE_MINOR: '1',
    POINTS_MAX_SHARE_PERCENT: '50',
  });
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());
// Promotions are global: none may leak from one test into the next.
afterEach(() => sql('update promotion set active = false'));

const uid = () => randomBytes(4).toString('hex');
const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const stock = async (variantId: string) =>
  (await sql('select on_hand, reserved, sold from variant where id = ?', [variantId]))[0];
const pointsOf = async (userId: string) =>
  (await sql('select points from app_user where id = ?', [userId]))[0].points as number;
const cartStatus = async (cartId: string) =>
  (await sql('select status from cart where id = ?', [cartId]))[0].status as string;
const checkoutCount = async (buyerId: string) =>
  (await sql('select count(*)::int as n from checkout where buyer_id = ?', [buyerId]))[0].n as number;

const FULL = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) {
  __typename
  ... on Checkout { id total { amount currency }
    orders { id status subtotal { amount } discount { amount } pointsDiscount { amount } shippingFee { amount } total { amount }
      merchant { id } lines { sku quantity unitPrice { amount } lineTotal { amount } } } }
  ... on OutOfStockError { errorCode variantId requested available }
  ... on UserError { errorCode message field } } }`;

interface OrderOut {
  id: string;
  status: string;
  subtotal: { amount: string };
  discount: { amount: string };
  pointsDiscount: { amount: string };
  shippingFee: { amount: string };
  total: { amount: string };
  merchant: { id: string };
  lines: { sku: string; quantity: number; unitPrice: { amount: string }; lineTotal: { amount: string } }[];
}

const cents = (amount: string) => Math.round(Number(amount) * 100);

function run(token: string | undefined, cartId: string, extra: Record<string, unknown> = {}) {
  return t.gql(
    FULL,
    { i: { cartId, idempotencyKey: `k-${uid()}`, shippingAddress: ADDRESS, ...extra } },
    token,
  );
}

/** Checks out and returns the Checkout, after checking the amounts add up. */
async function checkoutOk(token: string, cartId: string, extra: Record<string, unknown> = {}) {
  const r = await run(token, cartId, extra);
  expect(r.errors).toBeUndefined();
  const c = r.data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  assertAddsUp(c);
  return c as { id: string; total: { amount: string }; orders: OrderOut[] };
}

/** Every order: its lines plus shipping make its total; the orders make the checkout total. */
function assertAddsUp(c: { total: { amount: string }; orders: OrderOut[] }) {
  for (const o of c.orders) {
    const lines = o.lines.reduce((s, l) => s + cents(l.lineTotal.amount), 0);
    expect(lines + cents(o.shippingFee.amount)).toBe(cents(o.total.amount));
    expect(
      cents(o.subtotal.amount) -
        cents(o.discount.amount) -
        cents(o.pointsDiscount.amount) +
        cents(o.shippingFee.amount),
    ).toBe(cents(o.total.amount));
  }
  expect(c.orders.reduce((s, o) => s + cents(o.total.amount), 0)).toBe(cents(c.total.amount));
}

const orderOf = (c: { orders: OrderOut[] }, merchantId: string) => {
  const o = c.orders.find((x) => x.merchant.id === merchantId);
  if (!o) throw new Error(`no order for merchant ${merchantId}`);
  return o;
};
const lineOf = (o: OrderOut, sku: string) => {
  const l = o.lines.find((x) => x.sku === sku);
  if (!l) throw new Error(`no line ${sku}`);
  return l;
};
const amounts = (o: OrderOut) => ({
  subtotal: o.subtotal.amount,
  discount: o.discount.amount,
  pointsDiscount: o.pointsDiscount.amount,
  shippingFee: o.shippingFee.amount,
  total: o.total.amount,
});

async function product(
  merchantToken: string,
  price: string,
  opts: { collections?: string[]; onHand?: number } = {},
) {
  const sku = `SKU-${uid()}`;
  const p = await createProduct(t.gql, merchantToken, {
    collections: opts.collections,
    variants: [{ sku, price, onHand: opts.onHand ?? 50 }],
  });
  return { id: p.id, variantId: p.variantIds[0], sku };
}

async function promotion(token: string, input: Record<string, unknown>) {
  const r = await t.gql(
    `mutation($i: PromotionCreateInput!) { promotionCreate(input: $i) { id active } }`,
    { i: { name: `promo ${uid()}`, ...input } },
    token,
  );
  expect(r.errors).toBeUndefined();
  expect(r.data.promotionCreate.active).toBe(true);
  return r.data.promotionCreate.id as string;
}

async function coupon(input: Record<string, unknown>) {
  const code = `C${uid()}`.toUpperCase();
  const r = await t.gql(
    `mutation($i: CouponCreateInput!) { couponCreate(input: $i) { code } }`,
    { i: { code, description: 'test coupon', ...input } },
    admin,
  );
  expect(r.errors).toBeUndefined();
  return code;
}

async function applyCoupon(cartId: string, code: string) {
  const r = await t.gql(
    `mutation($c: ID!, $code: String!) { cartCouponApply(cartId: $c, code: $code) { __typename ... on ErrorResult { errorCode } } }`,
    { c: cartId, code },
  );
  expect(r.errors).toBeUndefined();
  return r.data.cartCouponApply as { __typename: string; errorCode?: string };
}

const CANCEL = `mutation($id: ID!) { orderCancel(orderId: $id) { __typename ... on Order { status } ... on ErrorResult { errorCode } } }`;

describe('promotions', () => {
  test('a platform percentage promotion covers the whole cart, rounded down, shared by largest remainder', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '12.34');
    const b = await product(m.token, '5.55');
    await promotion(admin, { kind: 'PERCENT', value: '10' });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 3 },
      { variantId: b.variantId, quantity: 1 },
    ]);

    const c = await checkoutOk(buyer.token, cart);
    // 37.02 + 5.55 = 42.57; 10 % = 4.257 -> 4.25, shared 3.70 / 0.55 (exact 3.6959 / 0.5541: the cent goes to a)
    const o = orderOf(c, m.id);
    expect(amounts(o)).toEqual({
      subtotal: '42.57',
      discount: '4.25',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '43.31',
    });
    expect(lineOf(o, a.sku)).toMatchObject({
      quantity: 3,
      unitPrice: { amount: '12.34' },
      lineTotal: { amount: '33.32' },
    });
    expect(lineOf(o, b.sku)).toMatchObject({
      quantity: 1,
      unitPrice: { amount: '5.55' },
      lineTotal: { amount: '5.00' },
    });
    expect(c.total.amount).toBe('43.31');
  });

  test("a merchant's collection promotion covers only that merchant's lines in the collection", async () => {
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const coll = `summer-${uid()}`;
    const inColl = await product(m1.token, '20.00', { collections: [coll] });
    const outColl = await product(m1.token, '10.00');
    const otherShop = await product(m2.token, '15.00', { collections: [coll] });
    await promotion(m1.token, { kind: 'PERCENT', value: '20', collection: coll });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [
      { variantId: inColl.variantId, quantity: 1 },
      { variantId: outColl.variantId, quantity: 1 },
      { variantId: otherShop.variantId, quantity: 1 },
    ]);

    const c = await checkoutOk(buyer.token, cart);
    expect(c.orders).toHaveLength(2);
    const o1 = orderOf(c, m1.id);
    expect(amounts(o1)).toEqual({
      subtotal: '30.00',
      discount: '4.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '30.99',
    });
    expect(lineOf(o1, inColl.sku).lineTotal.amount).toBe('16.00');
    expect(lineOf(o1, outColl.sku).lineTotal.amount).toBe('10.00');
    const o2 = orderOf(c, m2.id);
    expect(amounts(o2)).toEqual({
      subtotal: '15.00',
      discount: '0.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '19.99',
    });
    expect(c.total.amount).toBe('50.98');
  });

  test('promotions whose window has not started or has ended, or whose minimum is not reached, do not apply', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '40.00');
    const hour = 3600_000;
    await promotion(admin, { kind: 'PERCENT', value: '50', minSubtotal: '40.01' });
    // not live: created through SQL since promotionCreate reports them inactive
    await sql(`insert into promotion (name, kind, value, starts_at) values ('future', 'PERCENT', 5000, ?)`, [
      new Date(Date.now() + hour),
    ]);
    await sql(`insert into promotion (name, kind, value, ends_at) values ('past', 'PERCENT', 5000, ?)`, [
      new Date(Date.now() - hour),
    ]);
    const buyer = await signUpCustomer(t.gql);
    const c = await checkoutOk(
      buyer.token,
      await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]),
    );
    expect(amounts(orderOf(c, m.id))).toEqual({
      subtotal: '40.00',
      discount: '0.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '44.99',
    });
  });
});

describe('coupons', () => {
  test('a percentage coupon with a minimum subtotal', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '20.00');
    const code = await coupon({ kind: 'PERCENT', value: '15', minSubtotal: '30.00' });
    const buyer = await signUpCustomer(t.gql);

    // below the minimum: the coupon is refused when applied
    const small = await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]);
    expect(await applyCoupon(small, code)).toEqual({ __typename: 'UserError', errorCode: 'COUPON_INVALID' });

    const cart = await createCart(t.gql, [{ variantId: a.variantId, quantity: 2 }]);
    expect((await applyCoupon(cart, code.toLowerCase())).__typename).toBe('Cart');
    const c = await checkoutOk(buyer.token, cart);
    expect(amounts(orderOf(c, m.id))).toEqual({
      subtotal: '40.00',
      discount: '6.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '38.99',
    });
    expect(c.total.amount).toBe('38.99');
    expect((await sql('select used_count from coupon where code = ?', [code]))[0].used_count).toBe(1);
  });

  test('a fixed coupon is shared over both merchants in proportion, and its minimum counts the whole cart', async () => {
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const a = await product(m1.token, '30.00');
    const b = await product(m2.token, '20.00');
    const code = await coupon({ kind: 'FIXED', value: '7.50', minSubtotal: '50.00' });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 1 },
      { variantId: b.variantId, quantity: 1 },
    ]);
    expect((await applyCoupon(cart, code)).__typename).toBe('Cart');

    const c = await checkoutOk(buyer.token, cart);
    // 7.50 over 30 : 20 -> 4.50 and 3.00
    expect(amounts(orderOf(c, m1.id))).toEqual({
      subtotal: '30.00',
      discount: '4.50',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '30.49',
    });
    expect(amounts(orderOf(c, m2.id))).toEqual({
      subtotal: '20.00',
      discount: '3.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '21.99',
    });
    expect(c.total.amount).toBe('52.48');
  });

  test('a fixed coupon never takes more than the cart', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '3.00');
    const code = await coupon({ kind: 'FIXED', value: '5.00' });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]);
    expect((await applyCoupon(cart, code)).__typename).toBe('Cart');
    const c = await checkoutOk(buyer.token, cart);
    expect(amounts(orderOf(c, m.id))).toEqual({
      subtotal: '3.00',
      discount: '3.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '4.99',
    });
  });

  test('a coupon once per customer: a second use is COUPON_EXHAUSTED until the first checkout is cancelled', async () => {
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const a = await product(m1.token, '10.00');
    const b = await product(m2.token, '10.00');
    const code = await coupon({ kind: 'FIXED', value: '1.00' });
    const buyer = await signUpCustomer(t.gql);
    const used = async () =>
      (await sql('select used_count from coupon where code = ?', [code]))[0].used_count as number;

    const first = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 1 },
      { variantId: b.variantId, quantity: 1 },
    ]);
    expect((await applyCoupon(first, code)).__typename).toBe('Cart');
    const c = await checkoutOk(buyer.token, first);
    // 1.00 over two equal orders: 0.50 each
    expect(c.orders.map((o) => o.discount.amount)).toEqual(['0.50', '0.50']);
    expect(c.total.amount).toBe('28.98');
    expect(await used()).toBe(1);

    const second = await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]);
    expect((await applyCoupon(second, code)).__typename).toBe('Cart'); // an anonymous cart: no customer to count yet
    expect((await run(buyer.token, second)).data.checkoutCreate).toMatchObject({
      __typename: 'UserError',
      errorCode: 'COUPON_EXHAUSTED',
    });
    expect(await cartStatus(second)).toBe('ACTIVE');

    // the use comes back only when every order of the checkout is cancelled
    await t.gql(CANCEL, { id: c.orders[0].id }, buyer.token);
    expect(await used()).toBe(1);
    await t.gql(CANCEL, { id: c.orders[1].id }, buyer.token);
    expect(await used()).toBe(0);
    const again = await checkoutOk(buyer.token, second);
    expect(again.total.amount).toBe('13.99');
    expect(await used()).toBe(1);
  });

  test('a coupon whose minimum is no longer reached at checkout: COUPON_INVALID, nothing written', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '20.00', { onHand: 9 });
    const code = await coupon({ kind: 'FIXED', value: '5.00', minSubtotal: '30.00' });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [{ variantId: a.variantId, quantity: 2 }]);
    expect((await applyCoupon(cart, code)).__typename).toBe('Cart');
    const lines = await t.gql(`query($id: ID) { cart(id: $id) { lines { id } } }`, { id: cart });
    const upd = await t.gql(
      `mutation($c: ID!, $l: [CartLineUpdateInput!]!) { cartLinesUpdate(cartId: $c, lines: $l) { __typename } }`,
      { c: cart, l: [{ lineId: lines.data.cart.lines[0].id, quantity: 1 }] },
    );
    expect(upd.data.cartLinesUpdate.__typename).toBe('Cart');

    const r = await run(buyer.token, cart);
    expect(r.data.checkoutCreate).toMatchObject({ __typename: 'UserError', errorCode: 'COUPON_INVALID' });
    expect(await checkoutCount(buyer.id)).toBe(0);
    expect(await stock(a.variantId)).toEqual({ on_hand: 9, reserved: 0, sold: 0 });
    expect(await cartStatus(cart)).toBe('ACTIVE');
  });
});

test('promotions and a coupon stack: percentages by id, then fixed amounts, then the coupon', async () => {
  const m = await createMerchant(t.gql, admin);
  const coll = `stack-${uid()}`;
  const a = await product(m.token, '40.00', { collections: [coll] });
  const b = await product(m.token, '10.00');
  // the fixed promotion is created first: a lower id must not put it before the percentages
  await promotion(admin, { kind: 'FIXED', value: '5.00' });
  await promotion(admin, { kind: 'PERCENT', value: '10' });
  await promotion(m.token, { kind: 'PERCENT', value: '20', collection: coll });
  const code = await coupon({ kind: 'PERCENT', value: '10' });
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [
    { variantId: a.variantId, quantity: 1 },
    { variantId: b.variantId, quantity: 2 },
  ]);
  expect((await applyCoupon(cart, code)).__typename).toBe('Cart');

  const c = await checkoutOk(buyer.token, cart);
  // a 40.00, b 20.00
  // 10 %:            6.00 -> a 4.00, b 2.00         left a 36.00, b 18.00
  // 20 % (a only):   7.20                           left a 28.80, b 18.00
  // fixed 5.00 over 28.80 : 18.00 -> 3.0769 / 1.9231 -> a 3.08, b 1.92   left a 25.72, b 16.08
  // coupon 10 % of 41.80 = 4.18 over 25.72 : 16.08 -> 2.572 / 1.608 -> a 2.57, b 1.61   left a 23.15, b 14.47
  const o = orderOf(c, m.id);
  expect(lineOf(o, a.sku).lineTotal.amount).toBe('23.15');
  expect(lineOf(o, b.sku).lineTotal.amount).toBe('14.47');
  expect(amounts(o)).toEqual({
    subtotal: '60.00',
    discount: '22.38',
    pointsDiscount: '0.00',
    shippingFee: '4.99',
    total: '42.61',
  });
  expect(c.total.amount).toBe('42.61');
});

describe('shipping', () => {
  test('a flat fee per merchant order, free from 50.00 of goods', async () => {
    const [m1, m2, m3] = [
      await createMerchant(t.gql, admin),
      await createMerchant(t.gql, admin),
      await createMerchant(t.gql, admin),
    ];
    const a = await product(m1.token, '25.00');
    const b = await product(m2.token, '49.99');
    const cc = await product(m3.token, '1.00');
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 2 },
      { variantId: b.variantId, quantity: 1 },
      { variantId: cc.variantId, quantity: 1 },
    ]);
    const c = await checkoutOk(buyer.token, cart);
    expect(c.orders).toHaveLength(3);
    expect(amounts(orderOf(c, m1.id))).toEqual({
      subtotal: '50.00',
      discount: '0.00',
      pointsDiscount: '0.00',
      shippingFee: '0.00',
      total: '50.00',
    });
    expect(amounts(orderOf(c, m2.id))).toEqual({
      subtotal: '49.99',
      discount: '0.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '54.98',
    });
    expect(amounts(orderOf(c, m3.id))).toEqual({
      subtotal: '1.00',
      discount: '0.00',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '5.99',
    });
    expect(c.total.amount).toBe('110.97');
  });

  test('the threshold counts goods after discounts', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '55.00');
    const code = await coupon({ kind: 'PERCENT', value: '10' });
    const buyer = await signUpCustomer(t.gql);
    const cart = await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]);
    expect((await applyCoupon(cart, code)).__typename).toBe('Cart');
    const c = await checkoutOk(buyer.token, cart);
    expect(amounts(orderOf(c, m.id))).toEqual({
      subtotal: '55.00',
      discount: '5.50',
      pointsDiscount: '0.00',
      shippingFee: '4.99',
      total: '54.49',
    });
  });
});

describe('points', () => {
  test('redeemed points are capped at 50 %, split over the orders, deducted, and given back on cancel', async () => {
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const a = await product(m1.token, '30.00');
    const b = await product(m2.token, '10.00');
    const buyer = await signUpCustomer(t.gql);
    await sql('update app_user set points = 10000 where id = ?', [buyer.id]);
    const cart = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 1 },
      { variantId: b.variantId, quantity: 1 },
    ]);

    // 3000 asked, 50 % of 40.00 allows 2000: 1500 and 500 in proportion to 30 : 10
    const c = await checkoutOk(buyer.token, cart, { pointsToRedeem: 3000 });
    const o1 = orderOf(c, m1.id);
    const o2 = orderOf(c, m2.id);
    // shipping is decided before points: both stay below 50.00
    expect(amounts(o1)).toEqual({
      subtotal: '30.00',
      discount: '0.00',
      pointsDiscount: '15.00',
      shippingFee: '4.99',
      total: '19.99',
    });
    expect(amounts(o2)).toEqual({
      subtotal: '10.00',
      discount: '0.00',
      pointsDiscount: '5.00',
      shippingFee: '4.99',
      total: '9.99',
    });
    expect(lineOf(o1, a.sku).lineTotal.amount).toBe('15.00');
    expect(c.total.amount).toBe('29.98');
    expect(await pointsOf(buyer.id)).toBe(8000);
    const viewer = await t.gql(`{ viewer { points } }`, {}, buyer.token);
    expect(viewer.data.viewer.points).toBe(8000);
    expect(await sql('select points_used from checkout where id = ?', [c.id])).toEqual([
      { points_used: 2000 },
    ]);

    // each cancellation gives back exactly that order's points
    expect((await t.gql(CANCEL, { id: o1.id }, buyer.token)).data.orderCancel).toEqual({
      __typename: 'Order',
      status: 'CANCELLED',
    });
    expect(await pointsOf(buyer.id)).toBe(9500);
    expect((await t.gql(CANCEL, { id: o2.id }, buyer.token)).data.orderCancel).toEqual({
      __typename: 'Order',
      status: 'CANCELLED',
    });
    expect(await pointsOf(buyer.id)).toBe(10000);
    // a second cancel gives nothing back again
    expect((await t.gql(CANCEL, { id: o2.id }, buyer.token)).data.orderCancel).toEqual({
      __typename: 'OrderStateError',
      errorCode: 'ORDER_STATE_INVALID',
    });
    expect(await pointsOf(buyer.id)).toBe(10000);
  });

  test('points below the cap are all used, in whole points shared by largest remainder', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '7.00');
    const b = await product(m.token, '3.00');
    const buyer = await signUpCustomer(t.gql);
    await sql('update app_user set points = 500 where id = ?', [buyer.id]);
    const cart = await createCart(t.gql, [
      { variantId: a.variantId, quantity: 1 },
      { variantId: b.variantId, quantity: 1 },
    ]);
    const c = await checkoutOk(buyer.token, cart, { pointsToRedeem: 333 });
    const o = orderOf(c, m.id);
    // 3.33 over 7 : 3 -> 2.331 / 0.999 -> 2.33 and 1.00 (the cent goes to b, the larger remainder)
    expect(lineOf(o, a.sku).lineTotal.amount).toBe('4.67');
    expect(lineOf(o, b.sku).lineTotal.amount).toBe('2.00');
    expect(amounts(o)).toEqual({
      subtotal: '10.00',
      discount: '0.00',
      pointsDiscount: '3.33',
      shippingFee: '4.99',
      total: '11.66',
    });
    expect(await pointsOf(buyer.id)).toBe(167);
  });

  test('POINTS_INSUFFICIENT when redeeming more than owned; nothing is taken', async () => {
    const m = await createMerchant(t.gql, admin);
    const a = await product(m.token, '30.00', { onHand: 4 });
    const buyer = await signUpCustomer(t.gql);
    await sql('update app_user set points = 100 where id = ?', [buyer.id]);
    const cart = await createCart(t.gql, [{ variantId: a.variantId, quantity: 1 }]);
    const r = await run(buyer.token, cart, { pointsToRedeem: 101 });
    expect(r.data.checkoutCreate).toMatchObject({
      __typename: 'UserError',
      errorCode: 'POINTS_INSUFFICIENT',
      field: 'pointsToRedeem',
    });
    expect(await pointsOf(buyer.id)).toBe(100);
    expect(await checkoutCount(buyer.id)).toBe(0);
    expect(await stock(a.variantId)).toEqual({ on_hand: 4, reserved: 0, sold: 0 });
    expect(await cartStatus(cart)).toBe('ACTIVE');

    // all of them is fine (capped at 50 % of 30.00 = 1500, so all 100 are used)
    const c = await checkoutOk(buyer.token, cart, { pointsToRedeem: 100 });
    expect(amounts(orderOf(c, m.id))).toEqual({
      subtotal: '30.00',
      discount: '0.00',
      pointsDiscount: '1.00',
      shippingFee: '4.99',
      total: '33.99',
    });
    expect(await pointsOf(buyer.id)).toBe(0);
  });
});

test('a coupon whose window ended after it was applied: COUPON_INVALID and nothing is written', async () => {
  const m = await createMerchant(t.gql, admin);
  const a = await product(m.token, '20.00', { onHand: 7 });
  const b = await product(m.token, '5.00', { onHand: 3 });
  const code = await coupon({
    kind: 'PERCENT',
    value: '10',
    endsAt: new Date(Date.now() + 1500).toISOString(),
  });
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [
    { variantId: a.variantId, quantity: 2 },
    { variantId: b.variantId, quantity: 1 },
  ]);
  expect((await applyCoupon(cart, code)).__typename).toBe('Cart');
  await new Promise((r) => setTimeout(r, 2000));

  const key = `k-${uid()}`;
  const r = await t.gql(
    FULL,
    { i: { cartId: cart, idempotencyKey: key, shippingAddress: ADDRESS } },
    buyer.token,
  );
  expect(r.errors).toBeUndefined();
  expect(r.data.checkoutCreate).toMatchObject({ __typename: 'UserError', errorCode: 'COUPON_INVALID' });
  expect(await checkoutCount(buyer.id)).toBe(0);
  expect((await sql('select count(*)::int as n from shop_order where buyer_id = ?', [buyer.id]))[0].n).toBe(
    0,
  );
  expect(await stock(a.variantId)).toEqual({ on_hand: 7, reserved: 0, sold: 0 });
  expect(await stock(b.variantId)).toEqual({ on_hand: 3, reserved: 0, sold: 0 });
  expect(await cartStatus(cart)).toBe('ACTIVE');
  expect((await sql('select used_count from coupon where code = ?', [code]))[0].used_count).toBe(0);

  // without the coupon, the same key now checks out (the failed attempt stored nothing under it)
  await t.gql(`mutation($c: ID!) { cartCouponRemove(cartId: $c) { __typename } }`, { c: cart });
  const ok = await t.gql(
    FULL,
    { i: { cartId: cart, idempotencyKey: key, shippingAddress: ADDRESS } },
    buyer.token,
  );
  expect(ok.data.checkoutCreate.__typename).toBe('Checkout');
  expect(ok.data.checkoutCreate.total.amount).toBe('49.99');
  expect(await stock(a.variantId)).toEqual({ on_hand: 7, reserved: 2, sold: 0 });
});

describe('refusals', () => {
  let buyer: { token: string; id: string };
  let variantId: string;
  beforeAll(async () => {
    const m = await createMerchant(t.gql, admin);
    variantId = (await product(m.token, '10.00')).variantId;
    buyer = await signUpCustomer(t.gql);
  });

  test('an empty cart: CART_EMPTY', async () => {
    const cart = await createCart(t.gql, []);
    const r = await run(buyer.token, cart);
    expect(r.data.checkoutCreate).toMatchObject({ __typename: 'UserError', errorCode: 'CART_EMPTY' });
    expect(await cartStatus(cart)).toBe('ACTIVE');
  });

  test('a converted cart checked out again with a new key: CART_EMPTY', async () => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    await checkoutOk(buyer.token, cart);
    expect(await cartStatus(cart)).toBe('CONVERTED');
    const before = await stock(variantId);
    const r = await run(buyer.token, cart);
    expect(r.data.checkoutCreate).toMatchObject({ __typename: 'UserError', errorCode: 'CART_EMPTY' });
    expect(await stock(variantId)).toEqual(before);
    expect(await checkoutCount(buyer.id)).toBe(1);
  });

  test('anonymous: UNAUTHENTICATED; a merchant: FORBIDDEN', async () => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    const anon = await run(undefined, cart);
    expect(codeOf(anon)).toBe('UNAUTHENTICATED');
    expect(anon.data).toBeNull();
    const m = await createMerchant(t.gql, admin);
    expect(codeOf(await run(m.token, cart))).toBe('FORBIDDEN');
    expect(await cartStatus(cart)).toBe('ACTIVE');
  });

  test.each([
    ['country "Germany"', { ...ADDRESS, country: 'Germany' }],
    ['empty line1', { ...ADDRESS, line1: '' }],
    ['line1 of spaces only', { ...ADDRESS, line1: '   ' }],
    ['city of spaces only', { ...ADDRESS, city: ' ' }],
    ['empty name', { ...ADDRESS, name: '' }],
    ['line1 over 200 characters', { ...ADDRESS, line1: 'x'.repeat(201) }],
  ])('a bad address (%s): BAD_USER_INPUT', async (_, shippingAddress) => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    const r = await run(buyer.token, cart, { shippingAddress });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(await cartStatus(cart)).toBe('ACTIVE');
  });

  test.each([
    ['empty', ''],
    ['101 characters', 'k'.repeat(101)],
    ['with a space', 'a b'],
  ])('an idempotency key %s: BAD_USER_INPUT', async (_, key) => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    const r = await run(buyer.token, cart, { idempotencyKey: key });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(await cartStatus(cart)).toBe('ACTIVE');
  });

  test('an idempotency key of exactly 100 characters is accepted', async () => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    const c = await checkoutOk(buyer.token, cart, { idempotencyKey: 'k'.repeat(100) });
    expect(c.total.amount).toBe('14.99');
  });

  test('negative points: BAD_USER_INPUT', async () => {
    const cart = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    expect(codeOf(await run(buyer.token, cart, { pointsToRedeem: -1 }))).toBe('BAD_USER_INPUT');
  });
});
