import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { postJourney } from '../../src/sandbox/carrier';
import { sign } from '../../src/shared/signature';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { grantPoints } from '../factories/loyalty';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { moneyProblems } from '../support/money-invariants';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Loyalty points through the public API (docs/loyalty.md): points earned on an order are taken back
 * when it is refunded, in proportion, once per refund however often and however concurrently the
 * refund is asked for or confirmed; spent points come back with refunds and cancellations; a
 * reversal of points already spent leaves the balance at zero and the rest owed. Every test ends
 * with the money invariants, which include "the balance is the sum of the entries".
 *
 * No shipping fee, 1 point per currency unit kept (the default), a point worth 0.01.
 */

const LOGISTICS_SECRET = 'test-logistics-secret-01234567';
const PAYMENT_SECRET = 'test-payment-secret-0123456789';
const hex = () => randomBytes(6).toString('hex');

const REFUND = `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "test", idempotencyKey: $k) {
  __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`;
const POINTS = `{ viewer { points pointsOwed pointsHistory(first: 50) { kind amount points owed orderId refundId checkoutId } } }`;

interface Party {
  id: string;
  token: string;
}

let t: TestApp;
let admin: string;
let merchant: Party;

beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '0', PLATFORM_FEE_BPS: '1000', DB_POOL_SIZE: '20' });
  admin = await adminToken(t.gql);
  merchant = await createMerchant(t.gql, admin);
});
afterAll(() => t?.stop());

const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);

async function points(b: Party): Promise<{ points: number; pointsOwed: number; history: any[] }> {
  const r = await t.gql(POINTS, {}, b.token);
  expect(r.errors).toBeUndefined();
  return {
    points: r.data.viewer.points,
    pointsOwed: r.data.viewer.pointsOwed,
    history: r.data.viewer.pointsHistory,
  };
}

async function invariants(): Promise<void> {
  const em = t.app.orm.em.fork();
  expect(await moneyProblems((q) => em.getConnection().execute(q) as Promise<any[]>)).toEqual([]);
}

/** A customer with 1000.00 on their balance (a card top-up on the sandbox provider's page). */
async function buyer(): Promise<Party> {
  const b = await signUpCustomer(t.gql);
  const r = await t.gql(
    `mutation($k: String!) { accountTopUp(amount: "1000.00", idempotencyKey: $k) { ... on Payment { redirectUrl } } }`,
    { k: hex() },
    b.token,
  );
  await completeOnProviderPage(r.data.accountTopUp.redirectUrl);
  await eventually(
    async () =>
      (await t.gql(`{ viewer { account { balance { amount } } } }`, {}, b.token)).data.viewer.account.balance
        .amount === '1000.00',
  );
  return b;
}

/** A checkout of one unit at `price`, optionally paid partly with points; unpaid. */
async function placed(b: Party, price: string, pointsToRedeem = 0) {
  const p = await createProduct(t.gql, merchant.token, { variants: [{ price, onHand: 100 }] });
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
  const r = await checkout(t.gql, b.token, cartId, hex(), pointsToRedeem ? { pointsToRedeem } : {});
  expect(r.errors).toBeUndefined();
  const c = r.data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  return { checkoutId: c.id as string, orderId: c.orders[0].id as string, total: c.total.amount as string };
}

/** A PAID order: from the balance, or by card on the provider's page. */
async function paid(b: Party, price: string, opts: { points?: number; card?: boolean } = {}) {
  const o = await placed(b, price, opts.points);
  const r = await t.gql(
    PAYMENT_START,
    { c: o.checkoutId, m: opts.card ? 'CARD' : 'BALANCE', k: hex() },
    b.token,
  );
  if (opts.card) {
    expect(await completeOnProviderPage(r.data.paymentStart.redirectUrl)).toBe(303);
    await eventually(async () => (await orderStatus(b, o.orderId)) === 'PAID');
  } else expect(r.data.paymentStart).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
  return o;
}

async function orderStatus(b: Party, orderId: string): Promise<string> {
  return (await t.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: orderId }, b.token)).data.order
    .status;
}

/** Shipped, delivered by the sandbox carrier, and confirmed by the buyer: COMPLETED, points earned. */
async function completed(b: Party, price: string, opts: { points?: number; card?: boolean } = {}) {
  const o = await paid(b, price, opts);
  const s = await t.gql(
    `mutation($o: ID!, $t: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $t) { __typename ... on Shipment { id carrier trackingNumber } } }`,
    { o: o.orderId, t: `1Z${hex()}` },
    merchant.token,
  );
  expect(s.data.orderShip.__typename).toBe('Shipment');
  await postJourney(t.url, s.data.orderShip, {
    secret: LOGISTICS_SECRET,
    endAt: new Date(Date.now() - 1000),
  });
  const c = await t.gql(
    `mutation($o: ID!) { orderConfirmReceipt(orderId: $o) { __typename ... on Order { status } } }`,
    { o: o.orderId },
    b.token,
  );
  expect(c.data.orderConfirmReceipt).toEqual({ __typename: 'Order', status: 'COMPLETED' });
  return o;
}

const refund = (orderId: string, amount: string, key = hex()) =>
  t.gql(REFUND, { o: orderId, a: amount, k: key }, admin).then((r) => {
    expect(r.errors).toBeUndefined();
    return r.data.orderRefund as { __typename: string; status?: string; errorCode?: string };
  });

describe('earned points follow refunds', () => {
  test('an order refunded in full after completion takes back every point it earned: the balance is back to before', async () => {
    const b = await buyer();
    const o = await completed(b, '40.00');
    expect((await points(b)).points).toBe(40);
    expect(await refund(o.orderId, '40.00')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    const after = await points(b);
    expect(after).toMatchObject({ points: 0, pointsOwed: 0 });
    expect(after.history.map((e) => [e.kind, e.amount])).toEqual([
      ['REVERSE', -40],
      ['EARN', 40],
    ]);
    await invariants();
  });

  test('several partial refunds take back in proportion, the pieces add up to the whole, and never more than earned', async () => {
    const b = await buyer();
    const o = await completed(b, '40.00');
    // 13.33 of 40.00 refunded: 26.67 kept leaves floor(40 × 26.67 / 40) = 26 points.
    expect((await refund(o.orderId, '13.33')).__typename).toBe('Order');
    expect((await points(b)).points).toBe(26);
    expect((await refund(o.orderId, '13.33')).__typename).toBe('Order');
    expect((await points(b)).points).toBe(13);
    expect(await refund(o.orderId, '13.34')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    expect((await points(b)).points).toBe(0);
    // Nothing left to refund, and nothing more taken.
    expect((await refund(o.orderId, '0.01')).errorCode).toBe('REFUND_EXCEEDS_PAID');
    const h = (await points(b)).history;
    expect(h.filter((e) => e.kind === 'REVERSE').map((e) => e.amount)).toEqual([-13, -13, -14]);
    await invariants();
  });

  test('a refund before completion leaves less to earn; the rest refunded later takes back only what was earned', async () => {
    const b = await buyer();
    const o = await paid(b, '50.00');
    expect((await refund(o.orderId, '10.00')).__typename).toBe('Order');
    expect((await points(b)).points).toBe(0);
    const s = await t.gql(
      `mutation($o: ID!, $t: String!) { orderShip(orderId: $o, carrier: "UPS", trackingNumber: $t) { ... on Shipment { id carrier trackingNumber } } }`,
      { o: o.orderId, t: `1Z${hex()}` },
      merchant.token,
    );
    await postJourney(t.url, s.data.orderShip, {
      secret: LOGISTICS_SECRET,
      endAt: new Date(Date.now() - 1000),
    });
    await t.gql(
      `mutation($o: ID!) { orderConfirmReceipt(orderId: $o) { __typename } }`,
      { o: o.orderId },
      b.token,
    );
    expect((await points(b)).points).toBe(40);
    expect(await refund(o.orderId, '40.00')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    expect((await points(b)).points).toBe(0);
    await invariants();
  });
});

describe('once per refund, however often it arrives', () => {
  test('the same refund sent eight times at once, and again later, takes the points back once', async () => {
    const b = await buyer();
    const o = await completed(b, '30.00');
    const key = hex();
    const all = await Promise.all(Array.from({ length: 8 }, () => refund(o.orderId, '10.00', key)));
    expect(all.every((r) => r.__typename === 'Order')).toBe(true);
    expect((await refund(o.orderId, '10.00', key)).__typename).toBe('Order');
    expect((await points(b)).points).toBe(20);
    expect(await sql('select count(*)::int as n from refund where order_id = $1', [o.orderId])).toEqual([
      { n: 1 },
    ]);
    await invariants();
  });

  test('twelve admins refunding 4.00 of a 40.00 order at once: ten refunds, all 40 points back, none twice', async () => {
    const b = await buyer();
    const o = await completed(b, '40.00');
    const all = await Promise.all(Array.from({ length: 12 }, () => refund(o.orderId, '4.00')));
    expect(all.filter((r) => r.__typename === 'Order')).toHaveLength(10);
    expect(all.filter((r) => r.errorCode === 'REFUND_EXCEEDS_PAID')).toHaveLength(2);
    const after = await points(b);
    expect(after.points).toBe(0);
    const reversals = after.history.filter((e) => e.kind === 'REVERSE');
    expect(reversals.reduce((n, e) => n + e.amount, 0)).toBe(-40);
    expect(new Set(reversals.map((e) => e.refundId)).size).toBe(reversals.length);
    await invariants();
  });

  test('a card refund whose provider callback is replayed, or confirmed by a second event, takes points back once', async () => {
    const b = await buyer();
    const o = await completed(b, '25.00', { card: true });
    expect((await points(b)).points).toBe(25);
    expect(await refund(o.orderId, '25.00')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    // The refund job pays it out at the provider, whose refund.succeeded callback confirms it.
    const [event] = (await eventually(async () => {
      const rows = await sql(
        `select e.payload from provider_event e join refund r on r.payment_id = e.payment_id
          where r.order_id = $1 and r.status = 'SUCCEEDED' and e.type = 'refund.succeeded'`,
        [o.orderId],
      );
      return rows.length ? rows : undefined;
    }))!;
    const post = async (body: object) => {
      const raw = JSON.stringify(body);
      const res = await fetch(t.url.replace(/\/graphql$/, '/webhooks/payments'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': sign(PAYMENT_SECRET, raw, Date.now() / 1000),
        },
        body: raw,
      });
      return res.status;
    };
    const payload = typeof event.payload === 'string' ? JSON.parse(event.payload) : event.payload;
    expect(
      await Promise.all([post(payload), post(payload), post({ ...payload, id: `evt_again_${hex()}` })]),
    ).toEqual([200, 200, 200]);
    const after = await points(b);
    expect(after.points).toBe(0);
    expect(after.history.filter((e) => e.kind === 'REVERSE')).toHaveLength(1);
    await invariants();
  });
});

describe('spent points', () => {
  test('points spent on an order come back with its refunds, in proportion, all of them when it is refunded in full', async () => {
    const b = await buyer();
    await grantPoints(t.app.orm.em.fork() as any, b.id, 1000);
    // 20.00 of goods, 10.00 of them paid with 1000 points: 10.00 paid.
    const o = await paid(b, '20.00', { points: 1000 });
    expect(o.total).toBe('10.00');
    expect((await points(b)).points).toBe(0);
    expect((await refund(o.orderId, '2.50')).__typename).toBe('Order');
    expect((await points(b)).points).toBe(250);
    expect(await refund(o.orderId, '7.50')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    expect((await points(b)).points).toBe(1000);
    await invariants();
  });

  test('an unpaid order cancelled gives its points back once', async () => {
    const b = await buyer();
    await grantPoints(t.app.orm.em.fork() as any, b.id, 300);
    const o = await placed(b, '10.00', 300);
    expect((await points(b)).points).toBe(0);
    const cancel = () =>
      t.gql(`mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`, { o: o.orderId }, b.token);
    const results = await Promise.all([cancel(), cancel(), cancel()]);
    expect(results.map((r) => r.data.orderCancel.__typename).sort()).toEqual([
      'Order',
      'OrderStateError',
      'OrderStateError',
    ]);
    const after = await points(b);
    expect(after.points).toBe(300);
    expect(after.history.map((e) => e.kind)).toEqual(['RETURN', 'SPEND', 'ADJUST']);
    await invariants();
  });

  test('earned points already spent: the balance stops at zero, the rest is owed and paid from the next points', async () => {
    const b = await buyer();
    const a = await completed(b, '40.00');
    // The 40 points earned on A pay 0.40 of B.
    const bOrder = await paid(b, '10.00', { points: 40 });
    expect(bOrder.total).toBe('9.60');
    expect(await refund(a.orderId, '40.00')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    expect(await points(b)).toMatchObject({ points: 0, pointsOwed: 40 });
    // What is earned next pays the debt first: 15 of the 40.
    await completed(b, '15.00');
    expect(await points(b)).toMatchObject({ points: 0, pointsOwed: 25 });
    // B refunded in full: its 40 spent points come back, pay the remaining 25, and 15 are left.
    expect(await refund(bOrder.orderId, '9.60')).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    const after = await points(b);
    expect(after).toMatchObject({ points: 15, pointsOwed: 0 });
    expect(after.history.map((e) => [e.kind, e.amount, e.points, e.owed])).toEqual([
      ['RETURN', 40, 15, -25],
      ['EARN', 15, 0, -15],
      ['REVERSE', -40, 0, 40],
      ['SPEND', -40, -40, 0],
      ['EARN', 40, 40, 0],
    ]);
    await invariants();
  });
});

describe('loyaltyPointsAdjust', () => {
  const ADJUST = `mutation($u: ID!, $p: Int!, $r: String!, $k: String!) { loyaltyPointsAdjust(userId: $u, points: $p, reason: $r, idempotencyKey: $k) {
    __typename ... on LoyaltyEntry { id kind amount points owed note } ... on ErrorResult { errorCode } } }`;

  test('an admin gives and takes points once per key; what the balance cannot cover is owed; customers may not', async () => {
    const b = await signUpCustomer(t.gql);
    const give = (p: number, k: string, r = 'goodwill') => t.gql(ADJUST, { u: b.id, p, r, k }, admin);
    const [x, y] = await Promise.all([give(70, 'g1'), give(70, 'g1')]);
    expect(x.data.loyaltyPointsAdjust).toMatchObject({
      kind: 'ADJUST',
      amount: 70,
      points: 70,
      note: 'goodwill',
    });
    expect(y.data.loyaltyPointsAdjust).toEqual(x.data.loyaltyPointsAdjust);
    expect((await give(71, 'g1')).data.loyaltyPointsAdjust).toEqual({
      __typename: 'UserError',
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect((await give(-100, 'take', 'fraud')).data.loyaltyPointsAdjust).toMatchObject({
      amount: -100,
      points: -70,
      owed: 30,
    });
    expect(await points(b)).toMatchObject({ points: 0, pointsOwed: 30 });
    expect(codeOf(await give(0, 'zero'))).toBe('BAD_USER_INPUT');
    const own = await t.gql(ADJUST, { u: b.id, p: 1000, r: 'me', k: 'self' }, b.token);
    expect(codeOf(own)).toBe('FORBIDDEN');
    expect(await points(b)).toMatchObject({ points: 0, pointsOwed: 30 });
    await invariants();
  });
});
