import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { ADDRESS, checkout, createCart } from '../factories/shop';
import type { GqlResponse } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Concurrency invariants of checkout and of the ways an unpaid order ends (DESIGN.md "Consistency
 * rules"): real parallel HTTP requests, then the invariants checked in SQL.
 */

type Customer = { token: string; id: string; email: string };

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Runs `fn` over `items` with at most `limit` in flight (setup only; the races use Promise.all). */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    range(Math.min(limit, items.length)).map(async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const countBy = (rs: GqlResponse[], pick: (r: GqlResponse) => string) =>
  rs.reduce<Record<string, number>>((acc, r) => ((acc[pick(r)] = (acc[pick(r)] ?? 0) + 1), acc), {});

/** Every response is a 200 with data and no GraphQL error. */
function expectClean(rs: GqlResponse[]) {
  const bad = rs.filter((r) => r.status !== 200 || r.errors !== undefined || !r.data);
  expect(bad.map((r) => ({ status: r.status, errors: r.errors }))).toEqual([]);
}

const CANCEL = `mutation($id: ID!) { orderCancel(orderId: $id) { __typename
  ... on Order { id status version }
  ... on OrderStateError { errorCode from to }
  ... on ErrorResult { errorCode message } } }`;

function helpers(get: () => TestApp) {
  const sql = async (q: string, params: unknown[] = []) =>
    (await get().app.orm.em.fork().getConnection().execute(q, params)) as any[];
  const one = async (q: string, params: unknown[] = []) => (await sql(q, params))[0];
  /** Counters of a variant and the sum of its live reservations, read in one statement. */
  const stock = (variantId: string) =>
    one(
      `select v.on_hand, v.reserved, v.sold, v.on_hand - v.reserved - v.sold as available,
              (select coalesce(sum(r.quantity), 0)::int from stock_reservation r where r.variant_id = v.id) as held,
              (select count(*)::int from stock_reservation r where r.variant_id = v.id) as reservations
         from variant v where v.id = ?`,
      [variantId],
    );
  /** Orders holding a line of the variant, by status. */
  const ordersOf = async (variantId: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      (
        await sql(
          `select o.status, count(distinct o.id)::int as n from shop_order o join order_line ol on ol.order_id = o.id
            where ol.variant_id = ? group by o.status`,
          [variantId],
        )
      ).map((r) => [r.status, r.n]),
    );
  return { sql, one, stock, ordersOf };
}

describe('checkout under concurrency (DB_POOL_SIZE=20)', () => {
  let t: TestApp;
  let admin: string;
  let customers: Customer[];
  const { sql, one, stock, ordersOf } = helpers(() => t);

  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_SIZE: '20' });
    admin = await adminToken(t.gql);
    customers = await mapLimit(range(200), 8, () => signUpCustomer(t.gql));
    // No per-minute expiry sweep in this app: the only racers are the ones a test starts.
    await sql(`delete from pgboss.schedule where name = 'orders.expire-overdue'`);
  }, 120_000);
  afterAll(() => t?.stop());

  test('1,000 concurrent checkouts by 200 customers of a 10-unit RESERVE_ON_ORDER variant: exactly 10 win', async () => {
    const m = await createMerchant(t.gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, m.token, {
      variants: [{ price: '12.00', onHand: 10 }],
      stockPolicy: 'RESERVE_ON_ORDER',
    });

    // 5 carts per customer, each holding 1 unit: the customer's own cart and 4 anonymous carts.
    const attempts = await mapLimit(range(1000), 16, async (i) => {
      const c = customers[i % 200];
      const own = i < 200;
      return {
        customer: c,
        cartId: await createCart(t.gql, [{ variantId, quantity: 1 }], own ? c.token : undefined),
        key: `race-${i}`,
      };
    });
    expect(new Set(attempts.map((a) => a.cartId)).size).toBe(1000);
    expect(await stock(variantId)).toMatchObject({ on_hand: 10, reserved: 0, sold: 0, held: 0 });

    const rs = await Promise.all(attempts.map((a) => checkout(t.gql, a.customer.token, a.cartId, a.key)));
    expectClean(rs);
    expect(countBy(rs, (r) => r.data.checkoutCreate.__typename)).toEqual({
      Checkout: 10,
      OutOfStockError: 990,
    });
    for (const r of rs.filter((x) => x.data.checkoutCreate.__typename === 'OutOfStockError')) {
      // Losers all ran after the 10th unit was taken (nothing is ever given back here): 0 left.
      expect(r.data.checkoutCreate).toMatchObject({
        __typename: 'OutOfStockError',
        errorCode: 'OUT_OF_STOCK',
        variantId,
        requested: 1,
        available: 0,
      });
    }
    const won = rs
      .map((r, i) => ({ r, a: attempts[i] }))
      .filter(({ r }) => r.data.checkoutCreate.__typename === 'Checkout');
    for (const { r } of won) {
      expect(r.data.checkoutCreate.orders).toHaveLength(1);
      expect(r.data.checkoutCreate.orders[0]).toMatchObject({
        status: 'PENDING_PAYMENT',
        lines: [{ quantity: 1 }],
      });
    }
    expect(new Set(won.map(({ r }) => r.data.checkoutCreate.id)).size).toBe(10);

    const s = await stock(variantId);
    expect(s).toEqual({ on_hand: 10, reserved: 10, sold: 0, available: 0, held: 10, reservations: 10 });
    expect(s.reserved).toBe(s.held);
    expect(await one('select count(*)::int as n from variant where on_hand - reserved - sold < 0')).toEqual({
      n: 0,
    });
    expect(await ordersOf(variantId)).toEqual({ PENDING_PAYMENT: 10 });
    // Losers left nothing behind: no checkout, no idempotency key, their carts still active.
    const wonCarts = won.map(({ a }) => a.cartId);
    expect(
      await one('select count(*)::int as n from checkout where cart_id = any(?::text[])', [
        `{${attempts.map((a) => a.cartId).join(',')}}`,
      ]),
    ).toEqual({ n: 10 });
    expect(
      await one(
        `select count(*)::int as n from idempotency_key where scope = 'checkout' and key like 'race-%'`,
      ),
    ).toEqual({ n: 10 });
    expect(
      await sql(
        `select status, count(*)::int as n from cart where id = any(?::text[]) group by status order by status`,
        [`{${attempts.map((a) => a.cartId).join(',')}}`],
      ),
    ).toEqual([
      { status: 'ACTIVE', n: 990 },
      { status: 'CONVERTED', n: 10 },
    ]);
    expect(
      await one(`select count(*)::int as n from cart where status = 'CONVERTED' and id = any(?::text[])`, [
        `{${wonCarts.join(',')}}`,
      ]),
    ).toEqual({ n: 10 });
  }, 90_000);

  test('a merged cart cannot take more than the stock; two carts of 3 + 3 on 5 units: exactly one wins', async () => {
    const m = await createMerchant(t.gql, admin);
    // A plentiful variant with a lower id: its line is taken first and must be rolled back.
    const {
      variantIds: [plenty],
    } = await createProduct(t.gql, m.token, { variants: [{ price: '1.00', onHand: 50 }] });
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, m.token, { variants: [{ price: '5.00', onHand: 5 }] });
    const buyer = await signUpCustomer(t.gql);
    await createCart(
      t.gql,
      [
        { variantId: plenty, quantity: 1 },
        { variantId, quantity: 3 },
      ],
      buyer.token,
    );
    const anonymous = await createCart(t.gql, [{ variantId, quantity: 3 }]);
    // Adding a 6th unit to one cart is refused (only 5 exist)...
    const more = await t.gql(
      `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { __typename ... on OutOfStockError { requested available } } }`,
      { c: anonymous, l: [{ variantId, quantity: 3 }] },
    );
    expect(more.data.cartLinesAdd).toMatchObject({
      __typename: 'OutOfStockError',
      requested: 6,
      available: 5,
    });
    // ...but merging two carts at sign-in adds them up (capped only per line): 6 units in one line.
    const signed = await t.gql(
      `mutation($e: String!, $p: String!, $c: ID) { signIn(email: $e, password: $p, cartId: $c) { ... on AuthPayload { token cart { id lines { quantity variant { id } } } } } }`,
      { e: buyer.email, p: 'password-123', c: anonymous },
    );
    const cart = signed.data.signIn.cart;
    expect(cart.lines).toEqual([
      { quantity: 1, variant: { id: plenty } },
      { quantity: 6, variant: { id: variantId } },
    ]);

    const r = await checkout(t.gql, signed.data.signIn.token, cart.id, 'merged-1');
    expect(r.errors).toBeUndefined();
    expect(r.data.checkoutCreate).toMatchObject({
      __typename: 'OutOfStockError',
      errorCode: 'OUT_OF_STOCK',
      variantId,
      requested: 6,
      available: 5,
    });
    expect(await stock(variantId)).toEqual({
      on_hand: 5,
      reserved: 0,
      sold: 0,
      available: 5,
      held: 0,
      reservations: 0,
    });
    expect(await stock(plenty)).toEqual({
      on_hand: 50,
      reserved: 0,
      sold: 0,
      available: 50,
      held: 0,
      reservations: 0,
    });
    expect(await one('select count(*)::int as n from checkout where buyer_id = ?', [buyer.id])).toEqual({
      n: 0,
    });
    expect(
      await one('select count(*)::int as n from idempotency_key where caller_id = ?', [buyer.id]),
    ).toEqual({ n: 0 });
    expect(await one('select status from cart where id = ?', [cart.id])).toEqual({ status: 'ACTIVE' });

    // Two different carts, 3 units each, checking out at once on a 5-unit variant.
    const {
      variantIds: [v2],
    } = await createProduct(t.gql, m.token, { variants: [{ price: '5.00', onHand: 5 }] });
    const [b1, b2] = customers.slice(0, 2);
    const carts = [
      await createCart(t.gql, [{ variantId: v2, quantity: 3 }]),
      await createCart(t.gql, [{ variantId: v2, quantity: 3 }]),
    ];
    const rs = await Promise.all([
      checkout(t.gql, b1.token, carts[0], 'three-a'),
      checkout(t.gql, b2.token, carts[1], 'three-b'),
    ]);
    expectClean(rs);
    expect(countBy(rs, (x) => x.data.checkoutCreate.__typename)).toEqual({ Checkout: 1, OutOfStockError: 1 });
    expect(
      rs.map((x) => x.data.checkoutCreate).find((c) => c.__typename === 'OutOfStockError'),
    ).toMatchObject({ variantId: v2, requested: 3, available: 2 });
    expect(await stock(v2)).toEqual({
      on_hand: 5,
      reserved: 3,
      sold: 0,
      available: 2,
      held: 3,
      reservations: 1,
    });
    expect(await ordersOf(v2)).toEqual({ PENDING_PAYMENT: 1 });
  }, 60_000);

  test('50 concurrent checkouts carrying a single-use coupon: exactly one gets it; cancelling gives it back', async () => {
    const m = await createMerchant(t.gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, m.token, { variants: [{ price: '20.00', onHand: 100 }] });
    const coupon = await t.gql(
      `mutation($i: CouponCreateInput!) { couponCreate(input: $i) { code } }`,
      { i: { code: 'ONLYONCE', description: 'One use in all', kind: 'PERCENT', value: '10', usageLimit: 1 } },
      admin,
    );
    expect(coupon.data.couponCreate).toEqual({ code: 'ONLYONCE' });
    const buyers = customers.slice(0, 50);
    const carts = await mapLimit(buyers, 10, async () => {
      const cartId = await createCart(t.gql, [{ variantId, quantity: 1 }]);
      const applied = await t.gql(
        `mutation($c: ID!) { cartCouponApply(cartId: $c, code: "onlyonce") { __typename ... on Cart { coupon { code } discount { amount } } } }`,
        { c: cartId },
      );
      expect(applied.data.cartCouponApply).toEqual({
        __typename: 'Cart',
        coupon: { code: 'ONLYONCE' },
        discount: { amount: '2.00' },
      });
      return cartId;
    });

    const rs = await Promise.all(buyers.map((b, i) => checkout(t.gql, b.token, carts[i], `coupon-${i}`)));
    expectClean(rs);
    expect(
      countBy(rs, (r) => `${r.data.checkoutCreate.__typename}:${r.data.checkoutCreate.errorCode ?? ''}`),
    ).toEqual({
      'Checkout:': 1,
      'UserError:COUPON_EXHAUSTED': 49,
    });
    const winner = rs.findIndex((r) => r.data.checkoutCreate.__typename === 'Checkout');
    const won = rs[winner].data.checkoutCreate;
    // 20.00 - 10% + 4.99 shipping
    expect(won.total.amount).toBe('22.99');
    expect(await one(`select used_count from coupon where code = 'ONLYONCE'`)).toEqual({ used_count: 1 });
    expect(
      await sql(
        `select checkout_id::text as checkout_id, customer_id::text as customer_id, released_at from coupon_redemption where coupon_code = 'ONLYONCE'`,
      ),
    ).toEqual([{ checkout_id: won.id, customer_id: buyers[winner].id, released_at: null }]);
    expect(
      await one('select count(*)::int as n from checkout where cart_id = any(?::text[])', [
        `{${carts.join(',')}}`,
      ]),
    ).toEqual({ n: 1 });
    expect(await stock(variantId)).toMatchObject({ reserved: 1, held: 1 });

    const cancel = await t.gql(CANCEL, { id: won.orders[0].id }, buyers[winner].token);
    expect(cancel.data.orderCancel).toMatchObject({ __typename: 'Order', status: 'CANCELLED' });
    expect(await one(`select used_count from coupon where code = 'ONLYONCE'`)).toEqual({ used_count: 0 });
    const [redemption] = await sql(
      `select released_at from coupon_redemption where coupon_code = 'ONLYONCE'`,
    );
    expect(redemption.released_at).not.toBeNull();
    expect(await stock(variantId)).toMatchObject({ reserved: 0, held: 0 });

    // The use is back: the same customer (per-customer limit 1) can use it again on a new cart.
    const again = await createCart(t.gql, [{ variantId, quantity: 1 }]);
    await t.gql(`mutation($c: ID!) { cartCouponApply(cartId: $c, code: "ONLYONCE") { __typename } }`, {
      c: again,
    });
    const second = await checkout(t.gql, buyers[winner].token, again, 'coupon-again');
    expect(second.data.checkoutCreate).toMatchObject({ __typename: 'Checkout', total: { amount: '22.99' } });
    expect(await one(`select used_count from coupon where code = 'ONLYONCE'`)).toEqual({ used_count: 1 });
    expect(
      await one(
        `select count(*)::int as n from coupon_redemption where coupon_code = 'ONLYONCE' and released_at is null`,
      ),
    ).toEqual({ n: 1 });
  }, 60_000);

  test('50 concurrent identical checkouts with one idempotency key: one checkout, stock taken once', async () => {
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const a = await createProduct(t.gql, m1.token, { variants: [{ price: '15.00', onHand: 20 }] });
    const b = await createProduct(t.gql, m2.token, {
      variants: [{ price: '8.00', onHand: 20 }],
      stockPolicy: 'DEDUCT_ON_ORDER',
    });
    const buyer = await signUpCustomer(t.gql);
    const cartId = await createCart(
      t.gql,
      [
        { variantId: a.variantIds[0], quantity: 2 },
        { variantId: b.variantIds[0], quantity: 3 },
      ],
      buyer.token,
    );

    const rs = await Promise.all(range(50).map(() => checkout(t.gql, buyer.token, cartId, 'same-key')));
    expectClean(rs);
    const first = rs[0].data.checkoutCreate;
    expect(first.__typename).toBe('Checkout');
    expect(first.orders).toHaveLength(2);
    for (const r of rs) expect(r.data.checkoutCreate).toEqual(first);

    expect(await sql('select id::text as id from checkout where buyer_id = ?', [buyer.id])).toEqual([
      { id: first.id },
    ]);
    expect(await one('select count(*)::int as n from shop_order where buyer_id = ?', [buyer.id])).toEqual({
      n: 2,
    });
    expect(await one('select count(*)::int as n from order_line where buyer_id = ?', [buyer.id])).toEqual({
      n: 2,
    });
    expect(await one(`select count(*)::int as n from order_event where buyer_id = ?`, [buyer.id])).toEqual({
      n: 2,
    });
    expect(await stock(a.variantIds[0])).toEqual({
      on_hand: 20,
      reserved: 2,
      sold: 0,
      available: 18,
      held: 2,
      reservations: 1,
    });
    expect(await stock(b.variantIds[0])).toEqual({
      on_hand: 20,
      reserved: 0,
      sold: 3,
      available: 17,
      held: 0,
      reservations: 0,
    });
    expect(
      await one(
        `select count(*)::int as n from pgboss.job where name = 'order.expire' and data->>'checkoutId' = ?`,
        [first.id],
      ),
    ).toEqual({ n: 1 });

    const reused = await checkout(t.gql, buyer.token, cartId, 'same-key', {
      shippingAddress: { ...ADDRESS, line1: '2 Other St' },
    });
    expect(reused.data.checkoutCreate).toMatchObject({
      __typename: 'UserError',
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await one('select count(*)::int as n from checkout where buyer_id = ?', [buyer.id])).toEqual({
      n: 1,
    });

    // One cart, 10 different keys at once: the cart is checked out once, the others find it converted.
    const cart2 = await createCart(t.gql, [{ variantId: a.variantIds[0], quantity: 1 }], buyer.token);
    const many = await Promise.all(
      range(10).map((i) => checkout(t.gql, buyer.token, cart2, `other-key-${i}`)),
    );
    expectClean(many);
    expect(
      countBy(many, (r) => `${r.data.checkoutCreate.__typename}:${r.data.checkoutCreate.errorCode ?? ''}`),
    ).toEqual({ 'Checkout:': 1, 'UserError:CART_EMPTY': 9 });
    expect(await one('select count(*)::int as n from checkout where cart_id = ?', [cart2])).toEqual({ n: 1 });
    expect(await stock(a.variantIds[0])).toEqual({
      on_hand: 20,
      reserved: 3,
      sold: 0,
      available: 17,
      held: 3,
      reservations: 2,
    });
  }, 60_000);

  test('cancel racing expiry: one CANCELLED transition, stock and points given back once', async () => {
    const m = await createMerchant(t.gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, m.token, { variants: [{ price: '10.00', onHand: 10 }] });
    // Someone else's live reservation on the same variant: it must survive the race untouched.
    const other = customers[10];
    const otherCheckout = await checkout(
      t.gql,
      other.token,
      await createCart(t.gql, [{ variantId, quantity: 2 }]),
      'race-bystander',
    );
    expect(otherCheckout.data.checkoutCreate.__typename).toBe('Checkout');

    const buyer = await signUpCustomer(t.gql);
    await sql('update app_user set points = 1000 where id = ?', [buyer.id]);
    const cartId = await createCart(t.gql, [{ variantId, quantity: 3 }], buyer.token);
    const r = await checkout(t.gql, buyer.token, cartId, 'race-me', { pointsToRedeem: 300 });
    const c = r.data.checkoutCreate;
    expect(c).toMatchObject({ __typename: 'Checkout', total: { amount: '31.99' } }); // 30.00 - 3.00 points + 4.99
    const orderId = c.orders[0].id;
    expect(await one('select points from app_user where id = ?', [buyer.id])).toEqual({ points: 700 });
    expect(await one('select points_used from shop_order where id = ?', [orderId])).toEqual({
      points_used: 300,
    });
    expect(await stock(variantId)).toMatchObject({ reserved: 5, held: 5 });

    await sql(`update shop_order set payment_deadline = now() - interval '1 minute' where id = ?`, [orderId]);
    const orders = t.app.services.orders;
    const [cancels, expiries] = await Promise.all([
      Promise.all(range(10).map(() => t.gql(CANCEL, { id: orderId }, buyer.token))),
      Promise.all(range(5).map(() => orders.expireOverdue(t.app.orm.em.fork() as any))),
    ]);
    expectClean(cancels);
    const byCancel = cancels.filter((x) => x.data.orderCancel.__typename === 'Order').length;
    for (const x of cancels.filter((y) => y.data.orderCancel.__typename !== 'Order')) {
      expect(x.data.orderCancel).toMatchObject({
        __typename: 'OrderStateError',
        errorCode: 'ORDER_STATE_INVALID',
        from: 'CANCELLED',
        to: 'CANCELLED',
      });
    }
    const byExpiry = expiries.reduce((s, n) => s + n, 0);
    expect(byCancel + byExpiry).toBe(1);

    expect(await one('select status, version from shop_order where id = ?', [orderId])).toEqual({
      status: 'CANCELLED',
      version: 2,
    });
    expect(await sql('select status from order_event where order_id = ? order by seq', [orderId])).toEqual([
      { status: 'PENDING_PAYMENT' },
      { status: 'CANCELLED' },
    ]);
    expect(await stock(variantId)).toEqual({
      on_hand: 10,
      reserved: 2,
      sold: 0,
      available: 8,
      held: 2,
      reservations: 1,
    });
    expect(await one('select points from app_user where id = ?', [buyer.id])).toEqual({ points: 1000 });
    // The bystander's order is untouched.
    expect(
      await one('select status from shop_order where id = ?', [
        otherCheckout.data.checkoutCreate.orders[0].id,
      ]),
    ).toEqual({ status: 'PENDING_PAYMENT' });
  }, 60_000);

  test('DEDUCT_ON_ORDER: 100 concurrent checkouts of a 7-unit variant sell exactly 7; DEDUCT_ON_PAYMENT takes nothing', async () => {
    const m = await createMerchant(t.gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, m.token, {
      variants: [{ price: '9.00', onHand: 7 }],
      stockPolicy: 'DEDUCT_ON_ORDER',
    });
    const attempts = await mapLimit(range(100), 16, async (i) => ({
      customer: customers[(i * 2) % 200],
      cartId: await createCart(t.gql, [{ variantId, quantity: 1 }]),
    }));
    const rs = await Promise.all(
      attempts.map((a, i) => checkout(t.gql, a.customer.token, a.cartId, `deduct-${i}`)),
    );
    expectClean(rs);
    expect(countBy(rs, (r) => r.data.checkoutCreate.__typename)).toEqual({
      Checkout: 7,
      OutOfStockError: 93,
    });
    for (const r of rs.filter((x) => x.data.checkoutCreate.__typename === 'OutOfStockError')) {
      expect(r.data.checkoutCreate).toMatchObject({ variantId, requested: 1, available: 0 });
    }
    expect(await stock(variantId)).toEqual({
      on_hand: 7,
      reserved: 0,
      sold: 7,
      available: 0,
      held: 0,
      reservations: 0,
    });
    expect(await ordersOf(variantId)).toEqual({ PENDING_PAYMENT: 7 });

    const i = rs.findIndex((r) => r.data.checkoutCreate.__typename === 'Checkout');
    const cancel = await t.gql(
      CANCEL,
      { id: rs[i].data.checkoutCreate.orders[0].id },
      attempts[i].customer.token,
    );
    expect(cancel.data.orderCancel).toMatchObject({ __typename: 'Order', status: 'CANCELLED' });
    expect(await stock(variantId)).toEqual({
      on_hand: 7,
      reserved: 0,
      sold: 6,
      available: 1,
      held: 0,
      reservations: 0,
    });
    expect(await ordersOf(variantId)).toEqual({ PENDING_PAYMENT: 6, CANCELLED: 1 });

    // DEDUCT_ON_PAYMENT: the checkout holds nothing, but cannot order more than is available.
    const p = await createProduct(t.gql, m.token, {
      variants: [{ price: '9.00', onHand: 5 }],
      stockPolicy: 'DEDUCT_ON_PAYMENT',
    });
    const pv = p.variantIds[0];
    const ok = await checkout(
      t.gql,
      customers[1].token,
      await createCart(t.gql, [{ variantId: pv, quantity: 2 }]),
      'on-payment-ok',
    );
    expect(ok.data.checkoutCreate).toMatchObject({
      __typename: 'Checkout',
      orders: [{ status: 'PENDING_PAYMENT', lines: [{ quantity: 2 }] }],
    });
    expect(await stock(pv)).toEqual({
      on_hand: 5,
      reserved: 0,
      sold: 0,
      available: 5,
      held: 0,
      reservations: 0,
    });

    const big = await createCart(t.gql, [{ variantId: pv, quantity: 5 }]);
    const set = await t.gql(
      `mutation($v: ID!) { inventorySet(variantId: $v, onHand: 4) { onHand available } }`,
      { v: pv },
      m.token,
    );
    expect(set.data.inventorySet).toEqual({ onHand: 4, available: 4 });
    const refused = await checkout(t.gql, customers[3].token, big, 'on-payment-big');
    expect(refused.data.checkoutCreate).toMatchObject({
      __typename: 'OutOfStockError',
      errorCode: 'OUT_OF_STOCK',
      variantId: pv,
      requested: 5,
      available: 4,
    });
    expect(await stock(pv)).toEqual({
      on_hand: 4,
      reserved: 0,
      sold: 0,
      available: 4,
      held: 0,
      reservations: 0,
    });
    expect(await ordersOf(pv)).toEqual({ PENDING_PAYMENT: 1 });
  }, 60_000);
});

describe('the payment window closing (PAYMENT_WINDOW_SECONDS=2)', () => {
  let t: TestApp;
  const { sql, one, stock } = helpers(() => t);

  beforeAll(async () => {
    t = await startTestApp({ PAYMENT_WINDOW_SECONDS: '2', JOB_POLL_SECONDS: '1' });
  }, 60_000);
  afterAll(() => t?.stop());

  test('unpaid orders are cancelled by the delayed job at the deadline and give their stock back', async () => {
    const admin = await adminToken(t.gql);
    const m1 = await createMerchant(t.gql, admin);
    const m2 = await createMerchant(t.gql, admin);
    const [a] = (await createProduct(t.gql, m1.token, { variants: [{ onHand: 5 }] })).variantIds;
    const [b] = (await createProduct(t.gql, m2.token, { variants: [{ onHand: 4 }] })).variantIds;
    const [d] = (
      await createProduct(t.gql, m2.token, { variants: [{ onHand: 3 }], stockPolicy: 'DEDUCT_ON_ORDER' })
    ).variantIds;
    const buyers = await Promise.all(range(3).map(() => signUpCustomer(t.gql)));
    const carts = [
      await createCart(t.gql, [
        { variantId: a, quantity: 2 },
        { variantId: b, quantity: 1 },
      ]),
      await createCart(t.gql, [
        { variantId: a, quantity: 1 },
        { variantId: d, quantity: 2 },
      ]),
      await createCart(t.gql, [{ variantId: b, quantity: 3 }]),
    ];
    const rs = await Promise.all(buyers.map((u, i) => checkout(t.gql, u.token, carts[i], `window-${i}`)));
    expectClean(rs);
    expect(rs.map((r) => r.data.checkoutCreate.__typename)).toEqual(['Checkout', 'Checkout', 'Checkout']);
    const checkoutIds: string[] = rs.map((r) => r.data.checkoutCreate.id);
    const orderIds: string[] = rs.flatMap((r) =>
      r.data.checkoutCreate.orders.map((o: { id: string }) => o.id),
    );
    expect(orderIds).toHaveLength(5);
    const ids = `{${orderIds.join(',')}}`;

    // Taken now; read in one statement that also proves no deadline had passed yet (so no expiry ran).
    const before = await one(
      `select bool_and(payment_deadline > now()) as open, count(*) filter (where status = 'PENDING_PAYMENT')::int as pending,
              (select json_agg(json_build_object('r', reserved, 's', sold) order by id) from variant where id = any(?::bigint[])) as stock
         from shop_order where id = any(?::bigint[])`,
      [`{${[a, b, d].join(',')}}`, ids],
    );
    expect(before).toEqual({
      open: true,
      pending: 5,
      stock: [
        { r: 3, s: 0 },
        { r: 4, s: 0 },
        { r: 0, s: 2 },
      ],
    });
    expect([await stock(a), await stock(b), await stock(d)].map((s) => s.available)).toEqual([2, 0, 1]);

    // Nothing is called: wait for the delayed 'order.expire' jobs (polled every second).
    // Waits until every order is cancelled and every job has been marked done (a moment later).
    const deadline = Date.now() + 15_000;
    let pending = -1;
    while (Date.now() < deadline) {
      pending = (
        await one(
          `select (select count(*) from shop_order where id = any(?::bigint[]) and status <> 'CANCELLED')
                + (select count(*) from pgboss.job where name = 'order.expire' and state <> 'completed') as n`,
          [ids],
        )
      ).n;
      if (Number(pending) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(Number(pending)).toBe(0);

    expect(
      await sql(`select distinct cancel_reason from shop_order where id = any(?::bigint[])`, [ids]),
    ).toEqual([{ cancel_reason: 'payment window expired' }]);
    expect(
      await one(`select count(*)::int as n from stock_reservation where order_id = any(?::bigint[])`, [ids]),
    ).toEqual({ n: 0 });
    expect(await stock(a)).toEqual({
      on_hand: 5,
      reserved: 0,
      sold: 0,
      available: 5,
      held: 0,
      reservations: 0,
    });
    expect(await stock(b)).toEqual({
      on_hand: 4,
      reserved: 0,
      sold: 0,
      available: 4,
      held: 0,
      reservations: 0,
    });
    expect(await stock(d)).toEqual({
      on_hand: 3,
      reserved: 0,
      sold: 0,
      available: 3,
      held: 0,
      reservations: 0,
    });
    const events = await sql(
      `select order_id::text as order_id, count(*) filter (where status = 'CANCELLED')::int as cancelled, max(seq) as last
         from order_event where order_id = any(?::bigint[]) group by order_id`,
      [ids],
    );
    events.sort((x, y) => (x.order_id < y.order_id ? -1 : 1));
    expect(events).toEqual([...orderIds].sort().map((id) => ({ order_id: id, cancelled: 1, last: 2 })));
    // The delayed job of each checkout ran (the per-minute sweep is only the backstop).
    const jobs = await sql(
      `select data->>'checkoutId' as id, state from pgboss.job where name = 'order.expire'`,
    );
    jobs.sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(jobs).toEqual([...checkoutIds].sort().map((id) => ({ id, state: 'completed' })));
    // Available as shoppers' merchants see it again.
    const inv = await t.gql(
      `query($id: ID!) { product(id: $id) { variants { inventory { available reserved } } } }`,
      { id: (await one('select product_id::text as p from variant where id = ?', [a])).p },
      m1.token,
    );
    expect(inv.data.product.variants).toEqual([{ inventory: { available: 5, reserved: 0 } }]);
  }, 60_000);
});
