import { Client } from 'pg';
import { freePort } from '../../src/db/embedded';
import { startSandboxProcess, type SandboxProcess } from '../../src/sandbox/process';
import { ADMIN } from '../support/app';
import { client, type Gql, type GqlResponse } from '../support/client';
import { createTestDatabase } from '../support/db';
import { moneyProblems } from '../support/money-invariants';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { CHECKOUT, ADDRESS } from '../factories/shop';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';

/**
 * A crash in the middle of a burst of payments (issue 4, item 8): the built server runs as a child
 * process on its own database, with the sandbox card provider as a separate long-lived process (as
 * a real provider is: it does not die with the shop). While shoppers check out and pay (balance,
 * card paid or declined on the provider's page, card left pending, top-ups), the server is killed
 * with SIGKILL, then restarted on the same database and port.
 *
 * What must hold afterwards:
 * - right after the restart, before anything is repaired, every ledger, payment and stock
 *   invariant (test/support/money-invariants.ts, the SQL twin of LedgerService.checkInvariants):
 *   each transaction committed whole or not at all;
 * - card payments paid on the page (also while the server was down) are settled by the provider's
 *   retried callback or by polling; declined ones are FAILED;
 * - payments nobody completes (left on the page, or whose paymentStart/accountTopUp was cut off by
 *   the kill so the shopper never got the page) are cancelled when the payment window
 *   (PAYMENT_WINDOW_SECONDS, short here) has passed: at the provider when it has the payment, locally
 *   otherwise; their orders are cancelled and their stock released;
 * - then no payment is PENDING, no order awaits payment, every refund is paid out, and each card
 *   payment's status and refunded amount agree with the provider's.
 * The server's reconcile and expiry sweeps run every minute (cron); instead of waiting for the next
 * tick the test enqueues a run of those same jobs (a row in pg-boss's job table).
 */

const WINDOW_SECONDS = 15;
const PROVIDER = {
  apiKey: 'crash-test-provider-key-0123456789',
  webhookSecret: 'crash-test-webhook-secret-0123456789',
};

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sandbox provider as its own process (not the server's child: it outlives restarts), callbacks retried often. */
const startProvider = () =>
  startSandboxProcess({
    apiKey: PROVIDER.apiKey,
    webhookSecret: PROVIDER.webhookSecret,
    log: () => undefined,
    extra: {
      SANDBOX_CALLBACK_BASE_MS: '200',
      SANDBOX_CALLBACK_MAX_MS: '1000',
      SANDBOX_CALLBACK_MAX_ATTEMPTS: '60',
    },
  });

let providerProc: SandboxProcess | undefined;
let db: { url: string; drop(): Promise<void> } | undefined;
let pg: Client | undefined;

afterAll(async () => {
  await pg?.end();
  await cleanupServers();
  await providerProc?.stop();
  await db?.drop();
});

test('SIGKILL during a burst of payments: after a restart every invariant holds and every payment ends settled, refunded or cancelled', async () => {
  providerProc = await startProvider();
  db = await createTestDatabase();
  const port = await freePort();
  const env = {
    DATABASE_URL: db.url,
    // Many unpaid checkouts per buyer on purpose (the burst): the anti-hoarding caps are not under test.
    CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
    CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: 'crash-test-jwt-secret-0123456789abcdef',
    LOGISTICS_WEBHOOK_SECRET: 'crash-test-logistics-secret-0123456789',
    PAYMENT_PROVIDER_URL: providerProc.url,
    PAYMENT_PROVIDER_API_KEY: PROVIDER.apiKey,
    PAYMENT_WEBHOOK_SECRET: PROVIDER.webhookSecret,
    PAYMENT_POLL_AFTER_SECONDS: '1',
    PAYMENT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    SHIPPING_FEE: '0',
    PLATFORM_FEE_BPS: '500',
  };
  let srv: ServerProcess = await startServer({ env, port });
  const gql: Gql = client(srv.url);
  pg = new Client({ connectionString: db.url });
  await pg.connect();
  const query = async (q: string, params: unknown[] = []) => (await pg!.query(q, params)).rows;
  const providerView = async (ref: string) => {
    const res = await fetch(`${providerProc!.url}/v1/payments/${ref}`, {
      headers: { authorization: `Bearer ${PROVIDER.apiKey}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; amount: number; refunded: number };
  };

  // ------------------------------------------------------------------ a shop with some money in it
  const admin = await adminToken(gql);
  const [m1, m2] = [await createMerchant(gql, admin), await createMerchant(gql, admin)];
  const variants = [
    (
      await createProduct(gql, m1.token, {
        stockPolicy: 'RESERVE_ON_ORDER',
        variants: [{ price: '2.50', onHand: 400 }],
      })
    ).variantIds[0],
    (
      await createProduct(gql, m2.token, {
        stockPolicy: 'DEDUCT_ON_PAYMENT',
        variants: [{ price: '4.00', onHand: 400 }],
      })
    ).variantIds[0],
    (
      await createProduct(gql, m2.token, {
        stockPolicy: 'DEDUCT_ON_ORDER',
        variants: [{ price: '1.25', onHand: 400 }],
      })
    ).variantIds[0],
  ];
  const customers = await Promise.all(range(8).map(() => signUpCustomer(gql)));
  await Promise.all(
    customers.map(async (c, i) => {
      const r = await gql(
        `mutation($k: String!) { accountTopUp(amount: "40.00", idempotencyKey: $k) { ... on Payment { redirectUrl } } }`,
        { k: `setup-${i}` },
        c.token,
      );
      expect(await completeOnProviderPage(r.data.accountTopUp.redirectUrl)).toBe(303);
    }),
  );
  await eventually(
    async () =>
      (
        await query(
          `select count(*)::int as n from payment where purpose = 'TOP_UP' and status = 'SUCCEEDED'`,
        )
      )[0].n === 8,
    30_000,
  );

  // ------------------------------------------------------------------ the burst, and the crash
  // card-later: the shopper is on the provider's page when the shop dies, and pays there while it is down.
  type Flow =
    'balance' | 'card-pay' | 'card-later' | 'card-decline' | 'card-leave' | 'topup-pay' | 'topup-leave';
  const FLOWS: Flow[] = [
    'balance',
    'card-pay',
    'balance',
    'card-later',
    'card-decline',
    'topup-pay',
    'card-leave',
    'balance',
    'card-pay',
    'topup-leave',
  ];
  const later: { paymentId: string; url: string }[] = [];
  let killed = false;
  /** Set once the killed server has exited (killed is set just before the SIGKILL). */
  let down = false;
  let started = 0;
  const seen = { requestsCutOff: 0, pagesPaidWhileDown: 0, flows: 0 };
  /** Page URLs paid while the server was down: the later ones, and any burst shopper's who reached its page after the kill. */
  const paidWhileDown = new Set<string>();
  const unexpected: string[] = [];

  /** A GraphQL call of the burst: its data, or null once the server is gone. */
  const call = async (q: string, v: Record<string, unknown>, token?: string): Promise<any | null> => {
    let r: GqlResponse;
    try {
      r = await gql(q, v, token);
    } catch (e) {
      if (!killed) unexpected.push(`request failed before the kill: ${String(e)}`);
      seen.requestsCutOff++;
      return null;
    }
    if (r.status !== 200 || r.errors || !r.data) unexpected.push(`${r.status} ${JSON.stringify(r.errors)}`);
    return r.data ?? null;
  };
  const page = async (url: string, action: 'pay' | 'decline') => {
    const wasDown = down;
    expect(await completeOnProviderPage(url, action)).toBe(303); // the provider outlives the shop
    if (wasDown && action === 'pay') {
      seen.pagesPaidWhileDown++;
      paidWhileDown.add(url);
    }
  };

  async function shopper(w: number) {
    const buyer = customers[w % customers.length];
    for (let i = 0; ; i++) {
      const flow = FLOWS[(w * 3 + i) % FLOWS.length];
      seen.flows++;
      if (flow.startsWith('topup')) {
        const d = await call(
          `mutation($k: String!) { accountTopUp(amount: "5.00", idempotencyKey: $k) { ... on Payment { status redirectUrl } } }`,
          { k: `t-${w}-${i}` },
          buyer.token,
        );
        if (!d) return;
        started++;
        if (flow === 'topup-pay') await page(d.accountTopUp.redirectUrl, 'pay');
        continue;
      }
      const lines = [
        { variantId: variants[i % 3], quantity: 1 + (w % 2) },
        ...(i % 2 ? [{ variantId: variants[(i + 1) % 3], quantity: 1 }] : []),
      ];
      const cart = await call(
        `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id } } }`,
        { l: lines },
      );
      if (!cart) return;
      const co = await call(
        CHECKOUT,
        { i: { cartId: cart.cartCreate.id, idempotencyKey: `c-${w}-${i}`, shippingAddress: ADDRESS } },
        buyer.token,
      );
      if (!co) return;
      if (co.checkoutCreate.__typename !== 'Checkout') {
        unexpected.push(`checkout: ${JSON.stringify(co.checkoutCreate)}`);
        continue;
      }
      const method = flow === 'balance' ? 'BALANCE' : 'CARD';
      const p = await call(
        PAYMENT_START,
        { c: co.checkoutCreate.id, m: method, k: `p-${w}-${i}` },
        buyer.token,
      );
      if (!p) return;
      started++;
      const r = p.paymentStart;
      if (method === 'BALANCE') {
        if (!(
          r.__typename === 'InsufficientFundsError' ||
          (r.__typename === 'Payment' && r.status === 'SUCCEEDED')
        ))
          unexpected.push(`balance payment: ${JSON.stringify(r)}`);
        continue;
      }
      if (r.__typename !== 'Payment' || r.status !== 'PENDING') {
        unexpected.push(`card payment: ${JSON.stringify(r)}`);
        continue;
      }
      if (flow === 'card-pay') await page(r.redirectUrl, 'pay');
      if (flow === 'card-later') later.push({ paymentId: r.id, url: r.redirectUrl });
      if (flow === 'card-decline') await page(r.redirectUrl, 'decline');
    }
  }

  const burst = Promise.all(range(12).map((w) => shopper(w)));
  await eventually(async () => started >= 40, 60_000); // generous: a loaded machine is slow to start 40
  killed = true;
  const exit = await srv.stop('SIGKILL');
  expect(exit).toMatchObject({ signal: 'SIGKILL' });
  down = true;
  await burst;
  expect(unexpected).toEqual([]);
  expect(seen.requestsCutOff).toBeGreaterThan(0);
  // While the shop is down, shoppers pay on the provider's page: its callbacks fail and are retried.
  expect(later.length).toBeGreaterThan(0);
  await Promise.all(later.map((l) => page(l.url, 'pay')));
  // Each of them was paid while the server was down. (A burst shopper whose paymentStart answered
  // just before the kill may also pay its page after it: counted too, so not a count of `later`.)
  expect(later.filter((l) => !paidWhileDown.has(l.url))).toEqual([]);
  expect(seen.pagesPaidWhileDown).toBeGreaterThanOrEqual(later.length);
  const deliveries = async () =>
    ((await (await fetch(`${providerProc!.url}/control`)).json()) as any).stats.deliveries;
  await eventually(async () => (await deliveries()).failedAttempts > 0, 30_000);

  // ------------------------------------------------------------------ restart on the same database
  srv = await startServer({ env, port });
  // Nothing was half-written: every invariant holds before any repair has run.
  expect(await moneyProblems(query)).toEqual([]);

  // Callbacks of payments paid while the server was down arrive (the provider retries them).
  // Then the payment window of every checkout (and top-up) closes; the sweeps cancel what is left.
  const [{ last }] = await query(
    `select greatest((select max(payment_deadline) from checkout), (select max(created_at) from payment) + make_interval(secs => $1)) as last`,
    [WINDOW_SECONDS],
  );
  const wait = new Date(last).getTime() - Date.now() + 1_000;
  if (wait > 0) await sleep(wait);
  const sweep = () =>
    query(
      `insert into pgboss.job (name, data) values ('payments.reconcile', '{}'), ('orders.expire-overdue', '{}')`,
    );
  const settleBy = Date.now() + 90_000;
  for (;;) {
    const [open] =
      await query(`select (select count(*) from payment where status = 'PENDING')::int as payments,
                                       (select count(*) from shop_order where status = 'PENDING_PAYMENT')::int as orders,
                                       (select count(*) from refund where status <> 'SUCCEEDED')::int as refunds`);
    if (open.payments + open.orders + open.refunds === 0) break;
    if (Date.now() > settleBy) {
      const left = {
        payments: await query(
          `select id, purpose, method, status, provider_ref, created_at from payment where status = 'PENDING'`,
        ),
        orders: await query(
          `select id, checkout_id, payment_deadline from shop_order where status = 'PENDING_PAYMENT'`,
        ),
        refunds: await query(
          `select id, status, attempts, last_error from refund where status <> 'SUCCEEDED'`,
        ),
        jobs: await query(
          `select name, state, count(*)::int as n from pgboss.job group by 1, 2 order by 1, 2`,
        ),
      };
      throw new Error(
        `not settled after the window: ${JSON.stringify(left, null, 1)}\n${srv.output().slice(-3000)}`,
      );
    }
    await sweep();
    await sleep(1_500);
  }

  // ------------------------------------------------------------------ everything settled, and agrees
  expect(await moneyProblems(query)).toEqual([]);
  // Paid at the provider before the window closed, while the shop was down: settled, not cancelled.
  expect(
    await query(
      `select status, count(*)::int as n from payment where id = any($1::bigint[]) group by status`,
      [later.map((l) => l.paymentId)],
    ),
  ).toEqual([{ status: 'SUCCEEDED', n: later.length }]);
  // Every callback was delivered in the end (the restarted server took the retries): none given up.
  await eventually(async () => (await deliveries()).pending === 0, 60_000);
  expect((await deliveries()).gaveUp).toBe(0);
  const statuses = await query(
    `select purpose, method, status, count(*)::int as n from payment group by 1, 2, 3 order by 1, 2, 3`,
  );
  for (const s of statuses)
    expect(['SUCCEEDED', 'REFUNDED', 'PARTIALLY_REFUNDED', 'CANCELLED', 'FAILED']).toContain(s.status);
  expect(
    await query(`select status from shop_order where status not in ('PAID', 'CANCELLED') group by status`),
  ).toEqual([]);
  // No order is PAID without a settled payment that paid it (also one of the invariants above).
  expect(
    await query(`select o.id from shop_order o where o.status = 'PAID' and not exists (
                   select 1 from payment_order po join payment p on p.id = po.payment_id
                    where po.order_id = o.id and p.status in ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED'))`),
  ).toEqual([]);
  // The shop and the provider agree on every card payment: paid, declined or cancelled, and what was refunded.
  const cards = await query(
    `select id, status, amount, refunded, provider_ref from payment where method = 'CARD' order by id`,
  );
  for (const p of cards) {
    if (!p.provider_ref) {
      // paymentStart was cut off before the provider's answer was stored: nobody got its page.
      expect({ id: p.id, status: p.status }).toEqual({ id: p.id, status: 'CANCELLED' });
      continue;
    }
    const remote = await providerView(p.provider_ref);
    const local = ['PARTIALLY_REFUNDED', 'REFUNDED'].includes(p.status) ? 'SUCCEEDED' : p.status;
    expect({ id: p.id, status: local, amount: Number(p.amount), refunded: Number(p.refunded) }).toEqual({
      id: p.id,
      status: remote.status,
      amount: remote.amount,
      refunded: remote.refunded,
    });
  }
  // The burst did pay: balance and card payments succeeded, and some card payments were cancelled at the deadline.
  const count = (purpose: string, method: string, status: string) =>
    statuses.find((s) => s.purpose === purpose && s.method === method && s.status === status)?.n ?? 0;
  expect(count('CHECKOUT', 'BALANCE', 'SUCCEEDED')).toBeGreaterThan(0);
  expect(count('CHECKOUT', 'CARD', 'SUCCEEDED')).toBeGreaterThan(0);
  expect(count('CHECKOUT', 'CARD', 'FAILED')).toBeGreaterThan(0);
  expect(count('CHECKOUT', 'CARD', 'CANCELLED')).toBeGreaterThan(0);
  console.log(JSON.stringify({ seen, statuses }));
  expect((await srv.stop('SIGTERM')).code).toBe(0);
}, 300_000);
