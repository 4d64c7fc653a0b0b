import { randomBytes } from 'node:crypto';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf } from '../support/client';
import { LEDGER_CHECKS, moneyProblems, PAYMENT_CHECKS } from '../support/money-invariants';
import { sqlAll } from '../../src/db/sql';
import { MAX_REFUND_ATTEMPTS } from '../../src/modules/payment/refund.service';
import { sweepSnapshots } from '../../src/modules/checkout/snapshot-sweep';

/**
 * No silent failures (issue 13, item 5), end to end through the API of the real server: a job that
 * always fails lands in its dead-letter queue, shows in failedJobs and the metrics, and jobRetry
 * reruns it; a card refund the provider will not pay ends NEEDS_ATTENTION and is retried or
 * resolved by an admin with the ledger balanced; missing order-line snapshots are rebuilt; the
 * operations metrics are served.
 */

const uid = () => randomBytes(4).toString('hex');
const cents = (amount: string) => Math.round(Number(amount) * 100);

let t: TestApp;
let admin: string;
let shop: { id: string; token: string };
const sql = (q: string, p: unknown[] = []) => sqlAll<any>(t.app.orm.em.fork() as any, q, p);
const metrics = async () => (await fetch(t.url.replace('/graphql', '/metrics'))).text();

const FAILED = `query($q: String) { failedJobs(queue: $q) { id queue data error failedAt } }`;
const RETRY = `mutation($id: ID!) { jobRetry(id: $id) { queue } }`;
const ATTENTION = `{ refundsNeedingAttention { id orderId amount { amount } status attempts lastError resolution } }`;
const REFUND_FIELDS = `__typename ... on RefundAttention { id status attempts resolution resolutionNote amount { amount } }
  ... on UserError { errorCode message }`;
const REFUND_RETRY = `mutation($id: ID!) { refundRetry(id: $id) { ${REFUND_FIELDS} } }`;
const REFUND_RESOLVE = `mutation($id: ID!, $r: RefundResolution!, $n: String!) { refundResolve(id: $id, resolution: $r, note: $n) { ${REFUND_FIELDS} } }`;

beforeAll(async () => {
  t = await startTestApp({ JOB_POLL_SECONDS: '1' });
  admin = await adminToken(t.gql);
  shop = await createMerchant(t.gql, admin);
});

afterAll(() => t?.stop());

test('a job that always fails lands in its dead-letter queue, shows in failedJobs and metrics, and jobRetry reruns it', async () => {
  const queue = `test.always-fails-${uid()}`;
  const runs: { n: number; ok: boolean }[] = [];
  let healed = false;
  await t.app.services.jobs.work<{ n: number }>(queue, async (d) => {
    runs.push({ n: d.n, ok: healed });
    if (!healed) throw new Error(`the warehouse API said no to ${d.n}`);
  });
  await t.app.services.jobs.send(queue, { n: 42 }, { retryLimit: 1 });

  // Two attempts (the first and one retry), then the dead-letter queue.
  const dead = await eventually(async () => {
    const r = await t.gql(FAILED, { q: queue }, admin);
    return r.data.failedJobs.length ? r.data.failedJobs : null;
  }, 30_000);
  expect(dead).toEqual([
    {
      id: expect.any(String),
      queue,
      data: '{"n":42}',
      error: 'the warehouse API said no to 42',
      failedAt: expect.any(String),
    },
  ]);
  expect(runs).toEqual([
    { n: 42, ok: false },
    { n: 42, ok: false },
  ]);
  expect(await metrics()).toContain(`jobs_dead_letter{queue="${queue}"} 1`);
  // Listed with the others too; only admins see them.
  expect((await t.gql(FAILED, {}, admin)).data.failedJobs.map((j: { queue: string }) => j.queue)).toContain(
    queue,
  );
  expect(codeOf(await t.gql(FAILED, {}, shop.token))).toBe('FORBIDDEN');
  expect(codeOf(await t.gql(RETRY, { id: dead[0].id }, shop.token))).toBe('FORBIDDEN');

  // The cause is fixed; the admin reruns it: it runs once, succeeds, and leaves the dead letters.
  healed = true;
  expect((await t.gql(RETRY, { id: dead[0].id }, admin)).data.jobRetry).toEqual({ queue });
  // A repeat (a retried request) finds nothing: the job is not enqueued twice.
  expect(codeOf(await t.gql(RETRY, { id: dead[0].id }, admin))).toBe('NOT_FOUND');
  await eventually(async () => runs.length === 3, 15_000);
  expect(runs[2]).toEqual({ n: 42, ok: true });
  expect((await t.gql(FAILED, { q: queue }, admin)).data.failedJobs).toEqual([]);
  expect(await metrics()).not.toContain(`jobs_dead_letter{queue="${queue}"}`);
  await new Promise((r) => setTimeout(r, 1500));
  expect(runs).toHaveLength(3);
  // Every queue of the app has its dead-letter queue.
  const queues = await sql(
    `select name, dead_letter from pgboss.queue where name in ('snapshot.write', 'refund.execute', 'order.expire')`,
  );
  expect(queues.map((q: { dead_letter: string }) => q.dead_letter).sort()).toEqual([
    'order.expire.dead',
    'refund.execute.dead',
    'snapshot.write.dead',
  ]);
});

/** A card-paid order whose refund the provider cannot pay (it does not know the payment any more). */
async function stuckCardRefund(): Promise<{
  refundId: string;
  orderId: string;
  buyer: { token: string; id: string };
  amount: number;
  providerRef: string;
}> {
  const product = await createProduct(t.gql, shop.token, { variants: [{ onHand: 10, price: '40.00' }] });
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [{ variantId: product.variantIds[0], quantity: 1 }], buyer.token);
  const co = (await checkout(t.gql, buyer.token, cart, `co-${uid()}`)).data.checkoutCreate;
  const pay = (await t.gql(PAYMENT_START, { c: co.id, m: 'CARD', k: `pay-${uid()}` }, buyer.token)).data
    .paymentStart;
  expect(await completeOnProviderPage(pay.redirectUrl)).toBe(303);
  const orderId = co.orders[0].id;
  await eventually(
    async () => (await sql(`select status from shop_order where id = $1`, [orderId]))[0].status === 'PAID',
  );
  const [p] = await sql(`select id, provider_ref from payment where id = $1`, [pay.id]);
  // As after a restart of the sandbox provider: it answers 404 for the payment.
  await sql(`update payment set provider_ref = $2 where id = $1`, [pay.id, `pay_forgotten_${uid()}`]);
  const refunded = await t.gql(
    `mutation($o: ID!, $k: String!) { orderRefund(orderId: $o, amount: "15.00", reason: "damaged", idempotencyKey: $k) { __typename } }`,
    { o: orderId, k: `rf-${uid()}` },
    admin,
  );
  expect(refunded.data.orderRefund.__typename).toBe('Order');
  const [r] = await sql(`select id::text from refund where order_id = $1`, [orderId]);
  // The refund job's attempts, run now rather than over its backoff.
  await eventually(async () => {
    await t.app.services.refunds.execute(t.app.orm.em.fork() as any, r.id).catch(() => undefined);
    return (await sql(`select status from refund where id = $1`, [r.id]))[0].status === 'NEEDS_ATTENTION';
  }, 30_000);
  return { refundId: r.id, orderId, buyer, amount: 1500, providerRef: p.provider_ref };
}

test('NEEDS_ATTENTION refunds are listed, retried once the cause is fixed, or resolved to the balance, with the ledger right', async () => {
  const first = await stuckCardRefund();
  const second = await stuckCardRefund();
  const third = await stuckCardRefund();
  const listed = (await t.gql(ATTENTION, {}, admin)).data.refundsNeedingAttention;
  expect(listed.map((r: { id: string }) => r.id).sort()).toEqual(
    [first.refundId, second.refundId, third.refundId].sort(),
  );
  expect(listed[0]).toMatchObject({ status: 'NEEDS_ATTENTION', amount: { amount: '15.00' } });
  expect(listed[0].lastError).toMatch(/no payment pay_forgotten_/);
  expect(listed[0].attempts).toBeGreaterThanOrEqual(MAX_REFUND_ATTEMPTS);
  expect(await metrics()).toMatch(/refunds_needing_attention 3/);
  expect(codeOf(await t.gql(ATTENTION, {}, shop.token))).toBe('FORBIDDEN');

  // Retry: the payment is known again (the provider was restored); fresh attempts pay it out.
  const ledgerBefore = await sql(`select count(*)::int as n from ledger_entry`);
  await sql(`update payment set provider_ref = $2 where id = (select payment_id from refund where id = $1)`, [
    first.refundId,
    first.providerRef,
  ]);
  const retried = (await t.gql(REFUND_RETRY, { id: first.refundId }, admin)).data.refundRetry;
  expect(retried).toMatchObject({
    __typename: 'RefundAttention',
    status: expect.stringMatching(/PENDING|SUCCEEDED/),
    attempts: 0,
  });
  await eventually(
    async () =>
      (await sql(`select status from refund where id = $1`, [first.refundId]))[0].status === 'SUCCEEDED',
    20_000,
  );
  // A retry adds no ledger entry: the refund was booked when it was made.
  expect(await sql(`select count(*)::int as n from ledger_entry`)).toEqual(ledgerBefore);
  // Repeating the retry of a settled refund is refused as a state error, and changes nothing.
  expect((await t.gql(REFUND_RETRY, { id: first.refundId }, admin)).data.refundRetry).toMatchObject({
    errorCode: 'REFUND_STATE_INVALID',
  });

  // Resolve to the balance: the buyer's balance gets the amount, once, however often it is sent.
  const balance = async () =>
    cents(
      (await t.gql(`{ viewer { account { balance { amount } } } }`, {}, second.buyer.token)).data.viewer
        .account.balance.amount,
    );
  const before = await balance();
  const resolved = await Promise.all(
    [1, 2, 3].map(() =>
      t.gql(REFUND_RESOLVE, { id: second.refundId, r: 'TO_BALANCE', n: 'card closed; store credit' }, admin),
    ),
  );
  for (const r of resolved) {
    expect(r.data.refundResolve).toMatchObject({
      status: 'SUCCEEDED',
      resolution: 'TO_BALANCE',
      resolutionNote: 'card closed; store credit',
    });
  }
  expect((await balance()) - before).toBe(second.amount);
  const postings = await sql(
    `select kind, reference from ledger_posting where reference like 'refund-to-balance:%'`,
  );
  expect(postings).toEqual([{ kind: 'ADJUSTMENT', reference: `refund-to-balance:${second.refundId}` }]);
  // A different resolution afterwards is refused.
  expect(
    (await t.gql(REFUND_RESOLVE, { id: second.refundId, r: 'REFUNDED_OUTSIDE', n: 'x' }, admin)).data
      .refundResolve,
  ).toMatchObject({
    errorCode: 'REFUND_STATE_INVALID',
  });

  // Refunded outside (the provider's console): recorded, no ledger entry.
  const entries = await sql(`select count(*)::int as n from ledger_entry`);
  const outside = (
    await t.gql(
      REFUND_RESOLVE,
      { id: third.refundId, r: 'REFUNDED_OUTSIDE', n: 'paid by bank transfer #77' },
      admin,
    )
  ).data.refundResolve;
  expect(outside).toMatchObject({ status: 'SUCCEEDED', resolution: 'REFUNDED_OUTSIDE' });
  expect(await sql(`select count(*)::int as n from ledger_entry`)).toEqual(entries);

  expect((await t.gql(ATTENTION, {}, admin)).data.refundsNeedingAttention).toEqual([]);
  expect(await moneyProblems((q) => sql(q), { ...LEDGER_CHECKS, ...PAYMENT_CHECKS })).toEqual([]);
  expect(codeOf(await t.gql(REFUND_RETRY, { id: '999999' }, admin))).toBe('NOT_FOUND');
});

test('the sweep rebuilds missing order-line snapshots: from the catalog when unchanged, else from the order line', async () => {
  const keep = await createProduct(t.gql, shop.token, {
    title: 'Kept lamp',
    variants: [{ onHand: 10, price: '20.00' }],
  });
  const changed = await createProduct(t.gql, shop.token, {
    title: 'Changed vase',
    variants: [{ onHand: 10, price: '30.00', sku: `VASE-${uid()}` }],
  });
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(
    t.gql,
    [
      { variantId: keep.variantIds[0], quantity: 1 },
      { variantId: changed.variantIds[0], quantity: 2 },
    ],
    buyer.token,
  );
  const co = (await checkout(t.gql, buyer.token, cart, `co-${uid()}`)).data.checkoutCreate;
  const lines = await sql(
    `select snapshot_digest, variant_id::text, title, sku from order_line where order_id = $1 order by id`,
    [co.orders[0].id],
  );
  await eventually(
    async () =>
      (
        await sql(`select count(*)::int as n from product_snapshot where digest = any($1::text[])`, [
          lines.map((l: any) => l.snapshot_digest),
        ])
      )[0].n === 2,
  );
  const original = await sql(`select digest, data from product_snapshot where digest = any($1::text[])`, [
    lines.map((l: any) => l.snapshot_digest),
  ]);
  // Lost (as if the job had died); the vase's price has changed since the sale.
  await sql(`delete from product_snapshot where digest = any($1::text[])`, [
    lines.map((l: any) => l.snapshot_digest),
  ]);
  await sql(`update variant set price = 3500 where id = $1`, [changed.variantIds[0]]);

  const em = () => t.app.orm.em.fork() as any;
  const swept = await sweepSnapshots(em(), 'USD', (s) => t.app.services.checkout.writeSnapshots(em(), s), 0);
  expect(swept.rebuilt).toBeGreaterThanOrEqual(2);
  const rebuilt = new Map(
    (
      await sql(`select digest, data from product_snapshot where digest = any($1::text[])`, [
        lines.map((l: any) => l.snapshot_digest),
      ])
    ).map((r: any) => [r.digest, r.data]),
  );
  const kept = lines.find((l: any) => l.variant_id === keep.variantIds[0]);
  const vase = lines.find((l: any) => l.variant_id === changed.variantIds[0]);
  // Unchanged in the catalog: exactly the snapshot that was lost.
  expect(rebuilt.get(kept.snapshot_digest)).toEqual(
    original.find((o: any) => o.digest === kept.snapshot_digest).data,
  );
  // Changed: what the order line recorded (the price sold at, not today's).
  expect(rebuilt.get(vase.snapshot_digest)).toMatchObject({
    sku: vase.sku,
    title: vase.title,
    unitPrice: 3000,
    rebuiltFromOrderLine: true,
  });
  // The cursor moved on: a second sweep has nothing to do.
  expect(
    (await sweepSnapshots(em(), 'USD', (s) => t.app.services.checkout.writeSnapshots(em(), s), 0)).rebuilt,
  ).toBe(0);
});

test('the operations metrics are served', async () => {
  const text = await metrics();
  for (const name of [
    'orders_pending_payment_overdue',
    'orders_paid_unshipped',
    'outbox_relay_lag_events',
    'outbox_relay_lag_seconds',
    'sales_rollup_lag_events',
    'payment_provider_circuit_state',
    'db_pool_connections{state="used"}',
    'db_pool_connections{state="max"} 10',
    'refunds_needing_attention',
    'runtime_switch_enabled{name="checkout"} 1',
  ]) {
    expect(text).toContain(name);
  }
  expect(text).toMatch(/payment_provider_circuit_state 0/);
  // A backlog another module reports (the webhooks) appears under its kind.
  t.app.services.ops.registerBacklog('webhooks', async () => 7);
  expect(await metrics()).toContain('work_backlog{kind="webhooks"} 7');
  // An order past its payment deadline that expiry has not caught is counted.
  const product = await createProduct(t.gql, shop.token, { variants: [{ onHand: 10 }] });
  const buyer = await signUpCustomer(t.gql);
  const cart = await createCart(t.gql, [{ variantId: product.variantIds[0], quantity: 1 }], buyer.token);
  const co = (await checkout(t.gql, buyer.token, cart, `co-${uid()}`)).data.checkoutCreate;
  await sql(`update shop_order set payment_deadline = now() - interval '10 minutes' where id = $1`, [
    co.orders[0].id,
  ]);
  expect(await metrics()).toMatch(/orders_pending_payment_overdue [1-9]/);
});
