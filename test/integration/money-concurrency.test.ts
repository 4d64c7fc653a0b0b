import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { completeOnProviderPage, eventually, orderStatus, PAYMENT_START } from '../factories/payments';
import { startTestApp, type TestApp } from '../support/app';
import type { GqlResponse } from '../support/client';
import { moneyProblems } from '../support/money-invariants';
import { MAX_REFUND_ATTEMPTS, REFUND_JOB } from '../../src/modules/payment/refund.service';
import { PROVIDER_CLEARING } from '../../src/modules/ledger/ledger';

/**
 * Money under concurrency (issue 4, item 8): real parallel HTTP requests against the server, the
 * real sandbox provider process, then exact counts and the ledger's invariants.
 */

type Customer = { token: string; id: string; email: string };

let t: TestApp;
let admin: string;
/** The sandbox provider's origin (its own process, started by the app). */
let provider: string;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

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

const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const one = async (q: string, params: unknown[] = []) => (await sql(q, params))[0];
const em = () => t.app.orm.em.fork() as any;

const countBy = <T>(xs: T[], pick: (x: T) => string) =>
  xs.reduce<Record<string, number>>((acc, x) => ((acc[pick(x)] = (acc[pick(x)] ?? 0) + 1), acc), {});

function expectClean(rs: GqlResponse[]) {
  const bad = rs.filter((r) => r.status !== 200 || r.errors !== undefined || !r.data);
  expect(bad.map((r) => ({ status: r.status, errors: r.errors }))).toEqual([]);
}

/** checkInvariants and every SQL check of test/support/money-invariants.ts. */
async function expectInvariants() {
  expect(await t.app.services.ledger.checkInvariants(em())).toEqual([]);
  expect(await moneyProblems((q) => sql(q))).toEqual([]);
}

const control = async (body: object): Promise<{ failRefunds: number }> => {
  const res = await fetch(`${provider}/control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { failRefunds: number };
};

/** The provider's own view of a payment (its status API). */
async function providerPayment(
  ref: string,
): Promise<{ status: string; amount: number; refunded: number; refunds: { amount: number }[] }> {
  const res = await fetch(`${provider}/v1/payments/${ref}`, {
    headers: { authorization: `Bearer ${t.app.config.paymentProviderApiKey}` },
  });
  expect(res.status).toBe(200);
  return res.json() as any;
}

const BALANCE = `{ viewer { account { balance { amount } } } }`;
const balanceOf = async (c: Customer) =>
  (await t.gql(BALANCE, {}, c.token)).data.viewer.account.balance.amount as string;

/** Adds `amount` to the customer's balance by a card top-up completed on the provider's page. */
async function topUp(c: Customer, amount: string, key: string) {
  const before = Number(await balanceOf(c));
  const r = await t.gql(
    `mutation($a: String!, $k: String!) { accountTopUp(amount: $a, idempotencyKey: $k) { ... on Payment { status redirectUrl } } }`,
    { a: amount, k: key },
    c.token,
  );
  expect(r.data.accountTopUp.status).toBe('PENDING');
  provider ??= new URL(r.data.accountTopUp.redirectUrl).origin;
  expect(await completeOnProviderPage(r.data.accountTopUp.redirectUrl)).toBe(303);
  const want = (before + Number(amount)).toFixed(2);
  await eventually(async () => (await balanceOf(c)) === want);
}

const REFUND = `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "concurrency test", idempotencyKey: $k) {
  __typename ... on Order { id status } ... on UserError { errorCode message field } ... on ErrorResult { errorCode message } } }`;

/** A PAID order of `price` (one unit), paid by `method`; its payment row. */
async function paidOrder(buyer: Customer, variantId: string, method: 'CARD' | 'BALANCE', key: string) {
  const c = (
    await checkout(t.gql, buyer.token, await createCart(t.gql, [{ variantId, quantity: 1 }]), `co-${key}`)
  ).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  const start = (await t.gql(PAYMENT_START, { c: c.id, m: method, k: `pay-${key}` }, buyer.token)).data
    .paymentStart;
  if (method === 'CARD') {
    expect(start).toMatchObject({ __typename: 'Payment', status: 'PENDING' });
    provider ??= new URL(start.redirectUrl).origin;
    expect(await completeOnProviderPage(start.redirectUrl)).toBe(303);
    await eventually(async () => (await orderStatus(t.gql, buyer.token, c.orders[0].id)) === 'PAID');
  } else {
    expect(start).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
  }
  const payment = await one('select * from payment where id = ?', [start.id]);
  return { orderId: c.orders[0].id as string, total: c.total.amount as string, payment };
}

beforeAll(async () => {
  t = await startTestApp({
    DB_POOL_SIZE: '20',
    SHIPPING_FEE: '0',
    PLATFORM_FEE_BPS: '1000',
    PAYMENT_POLL_AFTER_SECONDS: '1',
  });
  admin = await adminToken(t.gql);
}, 60_000);
afterAll(() => t?.stop());

test('500 concurrent one-unit balance payments against a balance of 100: exactly 100 succeed, the balance ends at 0.00', async () => {
  const m = await createMerchant(t.gql, admin);
  const {
    variantIds: [variantId],
  } = await createProduct(t.gql, m.token, { variants: [{ price: '1.00', onHand: 500 }] });
  const buyer = await signUpCustomer(t.gql);
  await topUp(buyer, '100.00', 'top-100');
  expect(await balanceOf(buyer)).toBe('100.00');

  // 500 checkouts of one unit each, made beforehand. A customer has one active cart of their own,
  // so these are anonymous carts, checked out by the signed-in customer.
  const checkouts = await mapLimit(range(500), 16, async (i) => {
    const r = await checkout(
      t.gql,
      buyer.token,
      await createCart(t.gql, [{ variantId, quantity: 1 }]),
      `c500-${i}`,
    );
    expect(r.data.checkoutCreate).toMatchObject({ __typename: 'Checkout', total: { amount: '1.00' } });
    return r.data.checkoutCreate as { id: string; orders: { id: string }[] };
  });
  expect(new Set(checkouts.map((c) => c.id)).size).toBe(500);

  const rs = await Promise.all(
    checkouts.map((c, i) => t.gql(PAYMENT_START, { c: c.id, m: 'BALANCE', k: `b500-${i}` }, buyer.token)),
  );
  expectClean(rs);
  const results = rs.map((r) => r.data.paymentStart);
  expect(
    countBy(results, (p) => (p.__typename === 'Payment' ? `Payment ${p.status}` : p.__typename)),
  ).toEqual({
    'Payment SUCCEEDED': 100,
    InsufficientFundsError: 400,
  });
  for (const p of results.filter((x) => x.__typename === 'InsufficientFundsError')) {
    // Every payment costs exactly 1.00: a shortfall only ever sees an empty balance.
    expect(p).toEqual({
      __typename: 'InsufficientFundsError',
      errorCode: 'INSUFFICIENT_FUNDS',
      balance: { amount: '0.00' },
      message: expect.any(String),
    });
  }
  for (const p of results.filter((x) => x.__typename === 'Payment')) {
    expect(p).toMatchObject({
      method: 'BALANCE',
      amount: { amount: '1.00' },
      refunded: { amount: '0.00' },
      redirectUrl: null,
    });
  }

  expect(await balanceOf(buyer)).toBe('0.00');
  const paidCheckouts = results
    .map((p, i) => (p.__typename === 'Payment' ? checkouts[i].id : null))
    .filter(Boolean);
  const ids = `{${checkouts.map((c) => c.id).join(',')}}`;
  expect(
    await sql(
      `select status, count(*)::int as n from shop_order where checkout_id = any(?::bigint[]) group by status order by status`,
      [ids],
    ),
  ).toEqual([
    { status: 'PAID', n: 100 },
    { status: 'PENDING_PAYMENT', n: 400 },
  ]);
  // The PAID orders are exactly those of the successful payments, and nothing was recorded for the others.
  expect(
    (
      await sql(
        `select checkout_id from shop_order where status = 'PAID' and checkout_id = any(?::bigint[])`,
        [ids],
      )
    )
      .map((r) => String(r.checkout_id))
      .sort(),
  ).toEqual(paidCheckouts.map(String).sort());
  expect(
    await one(
      `select count(*)::int as n, count(*) filter (where status = 'SUCCEEDED')::int as ok from payment where purpose = 'CHECKOUT' and user_id = ?`,
      [buyer.id],
    ),
  ).toEqual({ n: 100, ok: 100 });
  expect(await one(`select on_hand, reserved, sold from variant where id = ?`, [variantId])).toEqual({
    on_hand: 500,
    reserved: 400,
    sold: 100,
  });

  // The buyer's entries: one top-up, then 100 purchases that each left exactly 1.00 less, never below zero.
  const entries = await sql(
    `select e.amount, e.balance_after, e.kind from ledger_entry e join ledger_account a on a.id = e.account_id
      where a.owner_type = 'USER' and a.owner_id = ? order by e.id`,
    [buyer.id],
  );
  expect(entries.map((e) => [e.kind, Number(e.amount), Number(e.balance_after)])).toEqual([
    ['TOP_UP', 10000, 10000],
    ...range(100).map((i) => ['PURCHASE', -100, 10000 - 100 * (i + 1)]),
  ]);
  expect(
    await one(`select balance from ledger_account where owner_type = 'USER' and owner_id = ?`, [buyer.id]),
  ).toEqual({ balance: '0' });
  // 100 sales of 1.00 less the 10% fee in the merchant's escrow.
  expect(
    await one(
      // The escrow is striped: its balance is the sum of its stripes.
      `select sum(balance)::bigint::text as balance from ledger_account where owner_type = 'MERCHANT' and owner_id = ? and kind = 'ESCROW'`,
      [m.id],
    ),
  ).toEqual({ balance: '9000' });
  // The database refuses a negative user balance outright.
  await expect(
    sql(`update ledger_account set balance = -1 where owner_type = 'USER' and owner_id = ?`, [buyer.id]),
  ).rejects.toThrow();
  await expectInvariants();
}, 90_000);

test('concurrent card payments and a card refund touch several clearing stripes; the clearing balance is their sum', async () => {
  const m = await createMerchant(t.gql, admin);
  const {
    variantIds: [variantId],
  } = await createProduct(t.gql, m.token, { variants: [{ price: '3.00', onHand: 20 }] });
  const buyers = await Promise.all(range(4).map(() => signUpCustomer(t.gql)));
  const clearing = async () => (await t.app.services.ledger.findAccount(em(), PROVIDER_CLEARING))!.balance;
  const before = await clearing();

  const paid = await Promise.all(
    range(8).map((i) => paidOrder(buyers[i % 4], variantId, 'CARD', `clearing-stripes-${i}`)),
  );
  const refund = await t.gql(REFUND, { o: paid[0].orderId, a: '3.00', k: 'clearing-stripes-refund' }, admin);
  expect(refund.data.orderRefund).toMatchObject({ __typename: 'Order', status: 'REFUNDED' });

  // Each card payment took its money from the clearing stripe its payment hashes to: not all one row.
  const entries = await sql(
    `select a.stripe, e.amount::int, p.reference from ledger_entry e join ledger_account a on a.id = e.account_id
       join ledger_posting p on p.id = e.posting_id
      where a.kind = 'PROVIDER_CLEARING' and p.reference = any(?::text[])`,
    [`{${paid.map((x) => `payment:${x.payment.id}`).join(',')}}`],
  );
  expect(entries.map((e) => e.amount)).toEqual(range(8).map(() => -300));
  expect(new Set(entries.map((e) => e.stripe)).size).toBeGreaterThan(1);

  // What the service reads is the sum of the stripes, and what the card payments kept.
  const { total } = await one(
    `select sum(balance)::int as total from ledger_account where kind = 'PROVIDER_CLEARING'`,
  );
  expect(await clearing()).toBe(total);
  expect(total).toBe(before - 8 * 300 + 300);
  await expectInvariants();
}, 90_000);

describe('concurrent refunds of one order', () => {
  let buyer: Customer;
  let variantId: string;
  beforeAll(async () => {
    const m = await createMerchant(t.gql, admin);
    variantId = (await createProduct(t.gql, m.token, { variants: [{ price: '10.00', onHand: 100 }] }))
      .variantIds[0];
    buyer = await signUpCustomer(t.gql);
    await topUp(buyer, '50.00', 'refund-top');
  });

  test.each(['BALANCE', 'CARD'] as const)(
    '20 concurrent full refunds of a %s order: exactly one refund is made',
    async (method) => {
      const { orderId, payment } = await paidOrder(buyer, variantId, method, `full-${method}`);
      const balanceBefore = await balanceOf(buyer);

      const rs = await Promise.all(
        range(20).map((i) => t.gql(REFUND, { o: orderId, a: '10.00', k: `full-${method}-${i}` }, admin)),
      );
      expectClean(rs);
      const results = rs.map((r) => r.data.orderRefund);
      expect(countBy(results, (r) => r.__typename + (r.errorCode ? ` ${r.errorCode}` : ''))).toEqual({
        Order: 1,
        'UserError REFUND_EXCEEDS_PAID': 19,
      });
      expect(results.find((r) => r.__typename === 'Order')).toEqual({
        __typename: 'Order',
        id: orderId,
        status: 'REFUNDED',
      });
      for (const r of results.filter((x) => x.__typename === 'UserError')) {
        expect(r).toEqual({
          __typename: 'UserError',
          errorCode: 'REFUND_EXCEEDS_PAID',
          message: 'At most 0.00 can still be refunded for this order',
          field: 'amount',
        });
      }

      expect(await one('select status, amount, refunded from payment where id = ?', [payment.id])).toEqual({
        status: 'REFUNDED',
        amount: '1000',
        refunded: '1000',
      });
      expect(await sql('select amount from refund where order_id = ?', [orderId])).toEqual([
        { amount: '1000' },
      ]);
      expect(
        await one(
          `select count(*)::int as n from ledger_posting where kind = 'REFUND' and reference = (select 'refund:' || id from refund where order_id = ?)`,
          [orderId],
        ),
      ).toEqual({ n: 1 });
      if (method === 'BALANCE') {
        // Back on the balance at once, once.
        expect(await balanceOf(buyer)).toBe((Number(balanceBefore) + 10).toFixed(2));
        expect(await one('select status from refund where order_id = ?', [orderId])).toEqual({
          status: 'SUCCEEDED',
        });
      } else {
        // The refund job pays it out at the provider, once.
        await eventually(
          async () =>
            (await one('select status from refund where order_id = ?', [orderId])).status === 'SUCCEEDED',
        );
        const remote = await providerPayment(payment.provider_ref);
        expect(remote).toMatchObject({ status: 'SUCCEEDED', amount: 1000, refunded: 1000 });
        expect(remote.refunds.map((r) => r.amount)).toEqual([1000]);
        expect(await balanceOf(buyer)).toBe(balanceBefore);
      }
      await expectInvariants();
    },
  );

  test.each(['BALANCE', 'CARD'] as const)(
    '3 concurrent refunds of 40%% of a %s order: exactly two succeed',
    async (method) => {
      const { orderId, payment } = await paidOrder(buyer, variantId, method, `part-${method}`);
      const balanceBefore = await balanceOf(buyer);

      const rs = await Promise.all(
        range(3).map((i) => t.gql(REFUND, { o: orderId, a: '4.00', k: `part-${method}-${i}` }, admin)),
      );
      expectClean(rs);
      const results = rs.map((r) => r.data.orderRefund);
      expect(countBy(results, (r) => r.__typename + (r.errorCode ? ` ${r.errorCode}` : ''))).toEqual({
        Order: 2,
        'UserError REFUND_EXCEEDS_PAID': 1,
      });
      for (const r of results.filter((x) => x.__typename === 'Order'))
        expect(r).toEqual({ __typename: 'Order', id: orderId, status: 'PAID' });
      expect(results.find((r) => r.__typename === 'UserError').message).toBe(
        'At most 2.00 can still be refunded for this order',
      );

      expect(await one('select status, refunded from payment where id = ?', [payment.id])).toEqual({
        status: 'PARTIALLY_REFUNDED',
        refunded: '800',
      });
      expect(await sql('select amount from refund where order_id = ? order by id', [orderId])).toEqual([
        { amount: '400' },
        { amount: '400' },
      ]);
      expect(await orderStatus(t.gql, buyer.token, orderId)).toBe('PAID');
      if (method === 'BALANCE') {
        expect(await balanceOf(buyer)).toBe((Number(balanceBefore) + 8).toFixed(2));
      } else {
        await eventually(
          async () =>
            (
              await one(`select count(*)::int as n from refund where order_id = ? and status = 'SUCCEEDED'`, [
                orderId,
              ])
            ).n === 2,
        );
        const remote = await providerPayment(payment.provider_ref);
        expect(remote).toMatchObject({ status: 'SUCCEEDED', refunded: 800 });
        expect(remote.refunds.map((r) => r.amount)).toEqual([400, 400]);
      }
      // The remaining 2.00 can still be refunded; then the order is REFUNDED and nothing more can be.
      const rest = await t.gql(REFUND, { o: orderId, a: '2.00', k: `part-${method}-rest` }, admin);
      expect(rest.data.orderRefund).toEqual({ __typename: 'Order', id: orderId, status: 'REFUNDED' });
      const more = await t.gql(REFUND, { o: orderId, a: '0.01', k: `part-${method}-more` }, admin);
      expect(more.data.orderRefund).toMatchObject({
        __typename: 'UserError',
        errorCode: 'REFUND_EXCEEDS_PAID',
      });
      expect(await one('select status, refunded from payment where id = ?', [payment.id])).toEqual({
        status: 'REFUNDED',
        refunded: '1000',
      });
      if (method === 'CARD') {
        await eventually(
          async () =>
            (
              await one(`select count(*)::int as n from refund where order_id = ? and status = 'SUCCEEDED'`, [
                orderId,
              ])
            ).n === 3,
        );
        expect((await providerPayment(payment.provider_ref)).refunded).toBe(1000);
      }
      await expectInvariants();
    },
  );
});

// Last: failed refund calls open the provider client's circuit breaker for 30 s.
describe('a failing provider refund', () => {
  let buyer: Customer;
  let variantId: string;
  beforeAll(async () => {
    const m = await createMerchant(t.gql, admin);
    variantId = (await createProduct(t.gql, m.token, { variants: [{ price: '10.00', onHand: 100 }] }))
      .variantIds[0];
    buyer = await signUpCustomer(t.gql);
  });
  afterAll(async () => {
    if (provider) await control({ reset: true });
  });

  test('failRefunds=3: the refund job retries and the refund ends SUCCEEDED, paid out once', async () => {
    const { orderId, payment } = await paidOrder(buyer, variantId, 'CARD', 'fail-3');
    // One job run makes 3 calls (the client retries twice): all three fail, the job's retry succeeds.
    await control({ failRefunds: 3 });
    const r = await t.gql(REFUND, { o: orderId, a: '10.00', k: 'fail-3' }, admin);
    expect(r.data.orderRefund).toEqual({ __typename: 'Order', id: orderId, status: 'REFUNDED' });
    const refund = await eventually(async () => {
      const row = await one('select * from refund where order_id = ?', [orderId]);
      return row.status === 'SUCCEEDED' ? row : null;
    }, 30_000);
    expect(refund).toMatchObject({
      amount: '1000',
      attempts: 2,
      provider_ref: expect.stringMatching(/^re_/),
    });
    expect(refund.last_error).toMatch(/payment provider answered 500 to POST/);
    expect((await control({})).failRefunds).toBe(0);
    const remote = await providerPayment(payment.provider_ref);
    expect(remote).toMatchObject({ status: 'SUCCEEDED', refunded: 1000 });
    expect(remote.refunds).toHaveLength(1);
    await expectInvariants();
  });

  test('failRefunds=100: after MAX_REFUND_ATTEMPTS the refund NEEDS_ATTENTION; nothing is lost', async () => {
    const { orderId, payment } = await paidOrder(buyer, variantId, 'CARD', 'fail-100');
    // pg-boss retries with exponential backoff (minutes for 8 attempts): this test drives the
    // attempts itself, so the job worker is paused and the attempts are exactly the test's.
    await (t.app.services.jobs as any).boss.offWork(REFUND_JOB);
    await control({ failRefunds: 100 });
    const r = await t.gql(REFUND, { o: orderId, a: '10.00', k: 'fail-100' }, admin);
    expect(r.data.orderRefund).toEqual({ __typename: 'Order', id: orderId, status: 'REFUNDED' });
    const { id: refundId } = await one('select id from refund where order_id = ?', [orderId]);

    expect(MAX_REFUND_ATTEMPTS).toBe(8);
    for (let i = 1; i < MAX_REFUND_ATTEMPTS; i++) {
      // A failed attempt throws, so that the job system retries it.
      await expect(t.app.services.refunds.execute(em(), String(refundId))).rejects.toThrow(
        /payment provider/,
      );
      expect(await one('select status, attempts from refund where id = ?', [refundId])).toEqual({
        status: 'PENDING',
        attempts: i,
      });
    }
    // The last attempt gives up: the refund waits for a person, visibly.
    await t.app.services.refunds.execute(em(), String(refundId));
    const stuck = await one('select * from refund where id = ?', [refundId]);
    expect(stuck).toMatchObject({
      status: 'NEEDS_ATTENTION',
      attempts: MAX_REFUND_ATTEMPTS,
      amount: '1000',
      provider_ref: null,
    });
    expect(stuck.last_error).toMatch(/payment provider/);
    expect(await sql(`select id from refund where status = 'NEEDS_ATTENTION'`)).toEqual([{ id: refundId }]);
    // Further runs (the job's, the sweeper's) leave it alone.
    await t.app.services.refunds.execute(em(), String(refundId));
    await t.app.services.refunds.retryPending(em());
    expect(await one('select status, attempts from refund where id = ?', [refundId])).toEqual({
      status: 'NEEDS_ATTENTION',
      attempts: MAX_REFUND_ATTEMPTS,
    });

    // Nothing is lost: the refund is on the books (owed to the card, out of escrow and the fee),
    // the payment shows it refunded, and the provider paid nothing out.
    expect(await one('select status, refunded from payment where id = ?', [payment.id])).toEqual({
      status: 'REFUNDED',
      refunded: '1000',
    });
    const posting = await sql(
      `select a.owner_type, a.kind, e.amount from ledger_posting p join ledger_entry e on e.posting_id = p.id join ledger_account a on a.id = e.account_id
        where p.kind = 'REFUND' and p.reference = ? order by e.amount`,
      [`refund:${refundId}`],
    );
    expect(posting).toEqual([
      { owner_type: 'MERCHANT', kind: 'ESCROW', amount: '-900' },
      { owner_type: 'PLATFORM', kind: 'FEE_REVENUE', amount: '-100' },
      { owner_type: 'PLATFORM', kind: 'PROVIDER_CLEARING', amount: '1000' },
    ]);
    const remote = await providerPayment(payment.provider_ref);
    expect(remote).toMatchObject({ status: 'SUCCEEDED', refunded: 0, refunds: [] });
    await expectInvariants();
  });
});
