import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf } from '../support/client';
import { sqlAll } from '../../src/db/sql';
import { decodeOrderId } from '../../src/modules/order/order-id';

/**
 * salesStats (issue 13, item 6): after a randomized history of checkouts, payments, cancellations
 * and refunds, with the rollup folded in at random moments (so part of the history is always
 * still in the outbox tail), the figures equal a full recount of the orders, for the platform and
 * each merchant, over whole hours, partial hours and both.
 */

type Customer = { token: string; id: string };
type Merchant = { id: string; token: string };

const uid = () => randomBytes(4).toString('hex');
const cents = (amount: string) => Math.round(Number(amount) * 100);
const PAID = new Set(['PAID', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'REFUNDED']);
const HOUR = 3_600_000;

const STATS = `query($f: DateTime!, $t: DateTime!, $m: ID) { salesStats(from: $f, to: $t, merchantId: $m) {
  from to orders gross { amount currency } refunded { amount } byStatus { status count } } }`;

let t: TestApp;
let admin: string;
let shops: Merchant[];
let variants: { id: string; merchant: number }[];
let buyers: Customer[];
const orders: { id: string; buyer: Customer; total: number }[] = [];
const checkouts: { id: string; buyer: Customer }[] = [];

const sql = (q: string, p: unknown[] = []) => sqlAll<any>(t.app.orm.em.fork() as any, q, p);
const fold = () => t.app.services.salesRollup.foldAll(t.app.orm.em.fork() as any);

async function richCustomer(): Promise<Customer> {
  const c = await signUpCustomer(t.gql);
  const r = await t.gql(
    `mutation { accountTopUp(amount: "5000.00", idempotencyKey: "top") { ... on Payment { redirectUrl } } }`,
    {},
    c.token,
  );
  expect(await completeOnProviderPage(r.data.accountTopUp.redirectUrl)).toBe(303);
  await eventually(async () => {
    const b = await t.gql(`{ viewer { account { balance { amount } } } }`, {}, c.token);
    return b.data.viewer.account.balance.amount === '5000.00';
  });
  return c;
}

/** The figures counted from every order and refund, in the test, from the order ids' clock. */
async function recount(from: Date, to: Date, merchantId: string | null) {
  const rows = await sql(
    `select o.id::text, o.merchant_id::text, o.status, o.total::bigint as total,
            coalesce((select sum(amount) from refund r where r.order_id = o.id), 0)::bigint as refunded
       from shop_order o`,
  );
  const out = { orders: 0, gross: 0, refunded: 0, byStatus: {} as Record<string, number> };
  for (const r of rows) {
    const at = decodeOrderId(r.id).createdAt.getTime();
    if (at < from.getTime() || at >= to.getTime()) continue;
    if (merchantId && r.merchant_id !== merchantId) continue;
    out.orders++;
    out.byStatus[r.status] = (out.byStatus[r.status] ?? 0) + 1;
    if (PAID.has(r.status)) {
      out.gross += Number(r.total);
      out.refunded += Number(r.refunded);
    }
  }
  return out;
}

async function expectExact(label: string) {
  const now = Date.now();
  const hourStart = Math.floor(now / HOUR) * HOUR;
  const ranges: [Date, Date][] = [
    [new Date(hourStart), new Date(hourStart + HOUR)], // one whole hour: rollup + tail
    [new Date(now - 90 * 60_000), new Date(now + 90 * 60_000)], // partial hours at both ends and whole ones
    [new Date(now - 5 * 60_000), new Date(now + 60_000)], // within an hour or across one boundary
    [new Date('2025-06-01T00:00:00Z'), new Date('2031-01-01T00:00:00Z')], // everything, from before the id clock
  ];
  const scopes: { token: string; merchantId: string | null; expected: string | null }[] = [
    { token: admin, merchantId: null, expected: null },
    ...shops.map((s) => ({ token: admin, merchantId: s.id, expected: s.id })),
    ...shops.map((s) => ({ token: s.token, merchantId: null, expected: s.id })),
  ];
  for (const [from, to] of ranges) {
    for (const s of scopes) {
      const r = await t.gql(STATS, { f: from.toISOString(), t: to.toISOString(), m: s.merchantId }, s.token);
      expect(r.errors).toBeUndefined();
      const got = r.data.salesStats;
      const want = await recount(from, to, s.expected);
      const byStatus = Object.fromEntries(
        got.byStatus.map((b: { status: string; count: number }) => [b.status, b.count]),
      );
      expect({
        label,
        orders: got.orders,
        gross: cents(got.gross.amount),
        refunded: cents(got.refunded.amount),
        byStatus,
      }).toEqual({
        label,
        orders: want.orders,
        gross: want.gross,
        refunded: want.refunded,
        byStatus: want.byStatus,
      });
    }
  }
}

beforeAll(async () => {
  // The test folds the rollup itself, at random moments.
  t = await startTestApp({ SALES_ROLLUP_INTERVAL_MS: '3600000', DB_POOL_SIZE: '10' });
  admin = await adminToken(t.gql);
  shops = [await createMerchant(t.gql, admin), await createMerchant(t.gql, admin)];
  variants = [];
  for (const [i, shop] of shops.entries()) {
    for (const price of ['7.25', '31.00']) {
      const p = await createProduct(t.gql, shop.token, { variants: [{ onHand: 10_000, price }] });
      variants.push({ id: p.variantIds[0], merchant: i });
    }
  }
  buyers = [await richCustomer(), await richCustomer()];
});

afterAll(() => t?.stop());

test('who may see which figures; a bad range is bad input', async () => {
  const f = new Date(Date.now() - HOUR).toISOString();
  const to = new Date().toISOString();
  expect(codeOf(await t.gql(STATS, { f, t: to, m: shops[1].id }, shops[0].token))).toBe('FORBIDDEN');
  expect(codeOf(await t.gql(STATS, { f, t: to }, buyers[0].token))).toBe('FORBIDDEN');
  expect(codeOf(await t.gql(STATS, { f, t: to }))).toBe('UNAUTHENTICATED');
  expect(codeOf(await t.gql(STATS, { f: to, t: f }, admin))).toBe('BAD_USER_INPUT');
  expect(codeOf(await t.gql(STATS, { f, t: to, m: 'x1' }, admin))).toBe('BAD_USER_INPUT');
  const empty = (await t.gql(STATS, { f, t: to, m: shops[0].id }, shops[0].token)).data.salesStats;
  expect(empty).toMatchObject({
    orders: 0,
    gross: { amount: '0.00' },
    refunded: { amount: '0.00' },
    byStatus: [],
  });
});

const action = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('checkout' as const),
      buyer: fc.nat(1),
      lines: fc.subarray([0, 1, 2, 3], { minLength: 1 }),
      qty: fc.integer({ min: 1, max: 3 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('pay' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      pick: fc.nat(),
      share: fc.integer({ min: 1, max: 100 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('fold' as const) }), weight: 1 },
);

type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

async function run(a: Action): Promise<void> {
  if (a.kind === 'checkout') {
    const buyer = buyers[a.buyer];
    const cart = await createCart(
      t.gql,
      a.lines.map((i) => ({ variantId: variants[i].id, quantity: a.qty })),
      buyer.token,
    );
    const co = (await checkout(t.gql, buyer.token, cart, `co-${uid()}`)).data.checkoutCreate;
    expect(co.__typename).toBe('Checkout');
    checkouts.push({ id: co.id, buyer });
    for (const o of co.orders) orders.push({ id: o.id, buyer, total: cents(o.total.amount) });
  } else if (a.kind === 'pay' && checkouts.length) {
    const c = checkouts[a.pick % checkouts.length];
    // Paying again, or a cancelled checkout, is an expected failure: the history goes on.
    await t.gql(PAYMENT_START, { c: c.id, m: 'BALANCE', k: `pay-${c.id}` }, c.buyer.token);
  } else if (a.kind === 'cancel' && orders.length) {
    const o = orders[a.pick % orders.length];
    await t.gql(`mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`, { o: o.id }, o.buyer.token);
  } else if (a.kind === 'refund' && orders.length) {
    const o = orders[a.pick % orders.length];
    const amount = Math.max(1, Math.floor((o.total * a.share) / 100));
    await t.gql(
      `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "test", idempotencyKey: $k) { __typename } }`,
      { o: o.id, a: (amount / 100).toFixed(2), k: `rf-${uid()}` },
      admin,
    );
  } else if (a.kind === 'fold') {
    await fold();
  }
}

test('after a randomized history the figures equal a full recount, folded or not', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 4, maxLength: 14 }), async (actions) => {
      for (const a of actions) await run(a);
      await expectExact('mid-history');
      await fold();
      await expectExact('folded');
    }),
    { numRuns: 4 },
  );
  // Orders placed a moment ago count at once, before any fold.
  const before = (
    await t.gql(
      STATS,
      { f: new Date(Date.now() - HOUR).toISOString(), t: new Date(Date.now() + HOUR).toISOString() },
      admin,
    )
  ).data.salesStats.orders;
  await run({ kind: 'checkout', buyer: 0, lines: [0, 2], qty: 1 });
  const after = (
    await t.gql(
      STATS,
      { f: new Date(Date.now() - HOUR).toISOString(), t: new Date(Date.now() + HOUR).toISOString() },
      admin,
    )
  ).data.salesStats.orders;
  expect(after).toBe(before + 2);
  const [{ lag }] = await sql(
    `select (select max(pos) from order_event) - position as lag from sales_rollup_cursor`,
  );
  expect(Number(lag)).toBeGreaterThan(0);
  // And the rollup really carries the history: folded, it holds every order.
  await fold();
  const [{ n }] = await sql(`select coalesce(sum(orders), 0)::int as n from sales_rollup`);
  expect(n).toBe(orders.length);
});
