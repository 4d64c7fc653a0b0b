import fc from 'fast-check';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout } from '../factories/shop';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { startTestApp, type TestApp } from '../support/app';
import type { GqlResponse } from '../support/client';
import { moneyProblems } from '../support/money-invariants';
import { sign } from '../../src/shared/signature';

/**
 * Property: whatever random concurrent history of top-ups, balance and card payments, callbacks
 * (duplicated, reordered, delayed, dropped, re-posted), admin refunds, cancellations and closed
 * payment windows happens, money is never created, lost or taken twice. After every step (a batch
 * of 2-5 operations run at once) the ledger's invariants and the SQL checks of
 * test/support/money-invariants.ts hold; after every history, once callbacks, polls and refund
 * jobs are through, each card payment agrees with the provider (status and amount refunded).
 *
 * Reproduce a failure with MONEY_SEED=<seed> (printed in the test name and by fast-check);
 * MONEY_RUNS changes the number of histories, MONEY_SHRINK=1 lets fast-check shrink (slow: every
 * shrink step replays a history against the real server).
 */

const SEED = Number(process.env.MONEY_SEED ?? 20261123);
const RUNS = Number(process.env.MONEY_RUNS ?? 15);

type Customer = { token: string; id: string; email: string };
type Action = 'pay' | 'decline' | 'leave';

interface World {
  customers: Customer[];
  variants: string[];
  checkouts: { id: string; buyer: Customer }[];
  orders: { id: string; total: number; buyer: Customer }[];
  /** Hosted pages not completed yet (card payments and top-ups left pending). */
  pages: string[];
}

type Op =
  | { kind: 'topUp'; who: number; cents: number; action: Action }
  | {
      kind: 'buy';
      who: number;
      lines: { v: number; q: number }[];
      method: 'BALANCE' | 'CARD';
      action: Action;
    }
  | { kind: 'payAgain'; target: number; method: 'BALANCE' | 'CARD'; action: Action }
  | { kind: 'completePage'; target: number; action: 'pay' | 'decline' }
  | { kind: 'refund'; target: number; size: 'full' | 'partial' | 'over'; percent: number }
  | { kind: 'cancel'; target: number }
  | {
      kind: 'callbacks';
      duplicate: number;
      reorder: boolean;
      drop: number;
      delayMs: number;
      failRefunds: number;
    }
  | { kind: 'repost'; target: number }
  | { kind: 'poll' }
  | { kind: 'expire'; target: number };

const action = fc.constantFrom<Action>('pay', 'pay', 'decline', 'leave');
const method = fc.constantFrom<'BALANCE' | 'CARD'>('BALANCE', 'CARD');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('topUp' as const),
      who: fc.nat(2),
      cents: fc.integer({ min: 1, max: 6000 }).map((c) => c + 1000),
      action,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('buy' as const),
      who: fc.nat(2),
      lines: fc.uniqueArray(fc.record({ v: fc.nat(3), q: fc.integer({ min: 1, max: 3 }) }), {
        minLength: 1,
        maxLength: 3,
        selector: (l) => l.v,
      }),
      method,
      action,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('payAgain' as const), target: fc.nat(), method, action }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('completePage' as const),
      target: fc.nat(),
      action: fc.constantFrom<'pay' | 'decline'>('pay', 'pay', 'decline'),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      target: fc.nat(),
      size: fc.constantFrom<'full' | 'partial' | 'over'>('full', 'partial', 'partial', 'over'),
      percent: fc.integer({ min: 1, max: 99 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), target: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('callbacks' as const),
      duplicate: fc.integer({ min: 1, max: 5 }),
      reorder: fc.boolean(),
      drop: fc.integer({ min: 0, max: 2 }),
      delayMs: fc.constantFrom(0, 0, 50, 200),
      failRefunds: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repost' as const), target: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'poll' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), target: fc.nat() }) },
);
/** A history: steps, each a batch of operations started at once. */
const historyArb = fc.array(fc.array(opArb, { minLength: 2, maxLength: 5 }), { minLength: 4, maxLength: 8 });

let t: TestApp;
let admin: string;
let merchants: { id: string; token: string }[];
let provider = '';
let keySeq = 0;
const key = (p: string) => `${p}-${++keySeq}`;

const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const em = () => t.app.orm.em.fork() as any;
const money = (minor: number) => (minor / 100).toFixed(2);
const pick = <T>(xs: T[], n: number): T | undefined => (xs.length ? xs[n % xs.length] : undefined);

/** A 200 with data and no GraphQL error: a 500 or an INTERNAL error is a bug whatever the race. */
function clean(r: GqlResponse, what: string): any {
  if (r.status !== 200 || r.errors || !r.data)
    throw new Error(`${what}: ${r.status} ${JSON.stringify(r.errors ?? r)}`);
  return r.data;
}

function expectOneOf(value: string, allowed: string[], what: string) {
  if (!allowed.includes(value))
    throw new Error(`${what}: unexpected ${value} (allowed: ${allowed.join(', ')})`);
}

const control = async (body: object) => {
  const res = await fetch(`${provider}/control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`control: ${res.status}`);
  return (await res.json()) as any;
};

async function providerPayment(ref: string): Promise<{ status: string; amount: number; refunded: number }> {
  const res = await fetch(`${provider}/v1/payments/${ref}`, {
    headers: { authorization: `Bearer ${t.app.config.paymentProviderApiKey}` },
  });
  if (res.status !== 200) throw new Error(`provider GET ${ref}: ${res.status}`);
  return (await res.json()) as any;
}

async function completePage(w: World, url: string, act: Action) {
  if (act === 'leave') {
    w.pages.push(url);
    return;
  }
  const status = await completeOnProviderPage(url, act);
  if (status !== 303) throw new Error(`provider page answered ${status}`);
}

const TOP_UP = `mutation($a: String!, $k: String!) { accountTopUp(amount: $a, idempotencyKey: $k) { __typename ... on Payment { status redirectUrl } ... on ErrorResult { errorCode } } }`;
const REFUND = `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "property test", idempotencyKey: $k) {
  __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`;
const CART_CREATE = `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id } ... on ErrorResult { errorCode } } }`;
const CANCEL = `mutation($id: ID!) { orderCancel(orderId: $id) { __typename ... on Order { status } ... on ErrorResult { errorCode } } }`;

async function pay(w: World, buyer: Customer, checkoutId: string, m: 'BALANCE' | 'CARD', act: Action) {
  const p = clean(
    await t.gql(PAYMENT_START, { c: checkoutId, m, k: key('pay') }, buyer.token),
    'paymentStart',
  ).paymentStart;
  if (p.__typename === 'Payment') {
    if (m === 'CARD') {
      expectOneOf(p.status, ['PENDING'], 'card paymentStart');
      await completePage(w, p.redirectUrl, act);
    } else {
      // Settled at once; an order whose stock is gone is cancelled and its share refunded.
      expectOneOf(p.status, ['SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED'], 'balance paymentStart');
    }
    return;
  }
  if (p.__typename === 'InsufficientFundsError' && m === 'BALANCE') return;
  expectOneOf(
    `${p.__typename} ${p.errorCode}`,
    ['UserError ORDER_STATE_INVALID', 'UserError PAYMENT_WINDOW_EXPIRED'],
    `paymentStart ${m}`,
  );
}

/** The world's orders whose status is one of `statuses` now. */
async function ordersIn(w: World, statuses: string[]) {
  if (!w.orders.length) return [];
  const rows = await sql(
    'select id from shop_order where id = any(?::bigint[]) and status = any(?::text[])',
    [`{${w.orders.map((o) => o.id).join(',')}}`, `{${statuses.join(',')}}`],
  );
  const ids = new Set(rows.map((r) => String(r.id)));
  return w.orders.filter((o) => ids.has(String(o.id)));
}

async function run(w: World, op: Op): Promise<void> {
  switch (op.kind) {
    case 'topUp': {
      const buyer = w.customers[op.who];
      const p = clean(
        await t.gql(TOP_UP, { a: money(op.cents), k: key('top') }, buyer.token),
        'accountTopUp',
      ).accountTopUp;
      expectOneOf(`${p.__typename} ${p.status}`, ['Payment PENDING'], 'accountTopUp');
      return completePage(w, p.redirectUrl, op.action);
    }
    case 'buy': {
      const buyer = w.customers[op.who];
      const cart = clean(
        await t.gql(CART_CREATE, { l: op.lines.map((l) => ({ variantId: w.variants[l.v], quantity: l.q })) }),
        'cartCreate',
      ).cartCreate;
      if (cart.__typename === 'OutOfStockError') return; // sold out already when put in the cart
      expectOneOf(cart.__typename, ['Cart'], 'cartCreate');
      const cartId = cart.id;
      const c = clean(await checkout(t.gql, buyer.token, cartId, key('co')), 'checkoutCreate').checkoutCreate;
      if (c.__typename === 'OutOfStockError') return;
      expectOneOf(c.__typename, ['Checkout'], 'checkoutCreate');
      w.checkouts.push({ id: c.id, buyer });
      for (const o of c.orders)
        w.orders.push({ id: o.id, total: Math.round(Number(o.total.amount) * 100), buyer });
      return pay(w, buyer, c.id, op.method, op.action);
    }
    case 'payAgain': {
      const c = pick(w.checkouts, op.target);
      if (c) await pay(w, c.buyer, c.id, op.method, op.action);
      return;
    }
    case 'completePage': {
      if (!w.pages.length) return;
      const [url] = w.pages.splice(op.target % w.pages.length, 1);
      return completePage(w, url, op.action);
    }
    case 'refund': {
      // Mostly orders that were paid (refunds of unpaid ones are refused, and covered too).
      const paid = await ordersIn(w, ['PAID', 'REFUNDED']);
      const o = op.percent % 5 === 0 ? pick(w.orders, op.target) : pick(paid, op.target);
      if (!o) return;
      const amount =
        op.size === 'full'
          ? o.total
          : op.size === 'over'
            ? o.total + 1
            : Math.max(1, Math.floor((o.total * op.percent) / 100));
      const r = clean(
        await t.gql(REFUND, { o: o.id, a: money(amount), k: key('refund') }, admin),
        'orderRefund',
      ).orderRefund;
      if (op.size === 'over')
        expectOneOf(
          `${r.__typename} ${r.errorCode}`,
          ['UserError REFUND_EXCEEDS_PAID'],
          'refund over the total',
        );
      else
        expectOneOf(
          r.__typename === 'Order' ? 'Order' : `${r.__typename} ${r.errorCode}`,
          ['Order', 'UserError REFUND_EXCEEDS_PAID'],
          'orderRefund',
        );
      if (r.__typename === 'Order')
        expectOneOf(
          r.status,
          amount === o.total ? ['REFUNDED'] : ['PAID', 'REFUNDED'],
          'refunded order status',
        );
      return;
    }
    case 'cancel': {
      const open = await ordersIn(w, ['PENDING_PAYMENT']);
      const o = op.target % 4 === 0 ? pick(w.orders, op.target) : pick(open, op.target);
      if (!o) return;
      const r = clean(await t.gql(CANCEL, { id: o.id }, o.buyer.token), 'orderCancel').orderCancel;
      expectOneOf(
        r.__typename === 'Order' ? `Order ${r.status}` : r.__typename,
        ['Order CANCELLED', 'OrderStateError'],
        'orderCancel',
      );
      return;
    }
    case 'callbacks': {
      const { kind: _kind, drop, duplicate, reorder, delayMs, failRefunds } = op;
      await control({ dropCallbacks: drop, duplicateCallbacks: duplicate, reorder, delayMs, failRefunds });
      return;
    }
    case 'repost': {
      // A genuine event delivered again, freshly signed: answered 200, and it changes nothing.
      const events = await sql('select payload from provider_event order by received_at, id');
      const e = pick(events, op.target);
      if (!e) return;
      const body = JSON.stringify(e.payload);
      const res = await fetch(`${new URL(t.app.url).origin}/webhooks/payments`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': sign(t.app.config.paymentWebhookSecret, body, Date.now() / 1000),
        },
        body,
      });
      const answer = await res.json();
      if (res.status !== 200 || (answer as any).status !== 'duplicate')
        throw new Error(`re-posted event answered ${res.status} ${JSON.stringify(answer)}`);
      return;
    }
    case 'poll':
      await t.app.services.payments.reconcile(em());
      return;
    case 'expire': {
      // Time passes for one checkout: its window closes, the expiry runs, pending card payments are polled and cancelled.
      const c = pick(w.checkouts, op.target);
      if (!c) return;
      await sql(`update checkout set payment_deadline = now() - interval '2 seconds' where id = ?`, [c.id]);
      await sql(
        `update shop_order set payment_deadline = now() - interval '2 seconds' where checkout_id = ? and payment_deadline > now()`,
        [c.id],
      );
      await t.app.services.orders.expireCheckout(em(), c.id);
      await t.app.services.payments.reconcile(em());
      return;
    }
  }
}

async function expectInvariants(when: string) {
  const ledger = await t.app.services.ledger.checkInvariants(em());
  const problems = await moneyProblems((q) => sql(q));
  if (ledger.length || problems.length)
    throw new Error(`${when}: ${JSON.stringify({ ledger, problems }, null, 1)}`);
}

/** After a history: callbacks delivered, lost ones polled, refunds paid out; then everyone agrees. */
async function quiesce(deliveriesBefore: { failedAttempts: number; gaveUp: number }) {
  await control({ reset: true }); // reorder off: held events go out, newest first
  const idle = async () =>
    eventually(async () => {
      const s = (await control({})).stats.deliveries;
      return s.pending === 0 && s.held === 0 ? s : null;
    }, 30_000);
  await idle();
  await new Promise((r) => setTimeout(r, 1_100)); // PAYMENT_POLL_AFTER_SECONDS=1
  await t.app.services.payments.reconcile(em());
  await eventually(
    async () => (await sql(`select count(*)::int as n from refund where status <> 'SUCCEEDED'`))[0].n === 0,
    30_000,
  );
  const s = await idle();
  // Every callback was answered 2xx at its first attempt: none failed, none was given up.
  expect({
    failedAttempts: s.failedAttempts - deliveriesBefore.failedAttempts,
    gaveUp: s.gaveUp - deliveriesBefore.gaveUp,
  }).toEqual({ failedAttempts: 0, gaveUp: 0 });
  await expectInvariants('after the history settled');

  const payments = await sql(
    `select id, status, amount, refunded, provider_ref from payment where method = 'CARD' order by id`,
  );
  for (const p of payments) {
    if (!p.provider_ref) throw new Error(`card payment ${p.id} has no provider payment`);
    const remote = await providerPayment(p.provider_ref);
    const local = ['PARTIALLY_REFUNDED', 'REFUNDED'].includes(p.status) ? 'SUCCEEDED' : p.status;
    expect({ id: p.id, status: local, amount: Number(p.amount), refunded: Number(p.refunded) }).toEqual({
      id: p.id,
      status: remote.status,
      amount: remote.amount,
      refunded: remote.refunded,
    });
  }
}

beforeAll(async () => {
  t = await startTestApp({
    SHIPPING_FEE: '0',
    PLATFORM_FEE_BPS: '500',
    PAYMENT_POLL_AFTER_SECONDS: '1',
    DB_POOL_SIZE: '10',
  });
  admin = await adminToken(t.gql);
  merchants = [await createMerchant(t.gql, admin), await createMerchant(t.gql, admin)];
  // The provider's origin: from a hosted page URL.
  const c = await signUpCustomer(t.gql);
  const p = clean(await t.gql(TOP_UP, { a: '1.00', k: 'origin' }, c.token), 'accountTopUp').accountTopUp;
  provider = new URL(p.redirectUrl).origin;
  await completeOnProviderPage(p.redirectUrl, 'decline');
}, 60_000);
afterAll(() => t?.stop());

test(`random concurrent histories of payments, callbacks and refunds keep every money invariant (seed ${SEED}, ${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(historyArb, async (steps) => {
      const before = (await control({ reset: true })).stats.deliveries;
      // Each history gets its own customers and scarce stock: sold-out lines and DEDUCT_ON_PAYMENT
      // lines whose stock is gone by payment time happen within a few operations.
      const [a, b] = merchants;
      const variants = [
        (
          await createProduct(t.gql, a.token, {
            stockPolicy: 'RESERVE_ON_ORDER',
            variants: [{ price: '3.33', onHand: 6 }],
          })
        ).variantIds[0],
        (
          await createProduct(t.gql, b.token, {
            stockPolicy: 'DEDUCT_ON_PAYMENT',
            variants: [{ price: '7.49', onHand: 4 }],
          })
        ).variantIds[0],
        (
          await createProduct(t.gql, b.token, {
            stockPolicy: 'DEDUCT_ON_ORDER',
            variants: [{ price: '12.01', onHand: 5 }],
          })
        ).variantIds[0],
        (
          await createProduct(t.gql, a.token, {
            stockPolicy: 'RESERVE_ON_ORDER',
            variants: [{ price: '0.99', onHand: 1000 }],
          })
        ).variantIds[0],
      ];
      const w: World = {
        customers: [await signUpCustomer(t.gql), await signUpCustomer(t.gql), await signUpCustomer(t.gql)],
        variants,
        checkouts: [],
        orders: [],
        pages: [],
      };
      // Everyone starts with some balance (a completed card top-up), so balance payments go both ways.
      await Promise.all(
        w.customers.map((_, who) => run(w, { kind: 'topUp', who, cents: 4000, action: 'pay' })),
      );
      for (const [i, step] of steps.entries()) {
        await Promise.all(step.map((op) => run(w, op)));
        await expectInvariants(`after step ${i + 1}`);
      }
      await quiesce(before);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: process.env.MONEY_SHRINK !== '1', verbose: 1 },
  );
  // What the histories covered (printed, not asserted: the interleavings differ from run to run).
  const covered = await sql(`
    select 'payment ' || purpose || ' ' || method || ' ' || status as what, count(*)::int as n from payment group by 1
    union all select 'refund ' || case when reason = 'property test' then 'admin' else 'automatic' end || ' ' || status, count(*)::int from refund group by 1
    union all select 'order ' || status, count(*)::int from shop_order group by 1
    union all select 'provider event ' || type, count(*)::int from provider_event group by 1
    order by 1`);
  console.log(`seed ${SEED}, ${RUNS} histories:\n${covered.map((r) => `  ${r.what}: ${r.n}`).join('\n')}`);
}, 180_000);
