import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { sign } from '../../src/sandbox/signature';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { moneyProblems } from '../support/money-invariants';

/**
 * Issue 9, defect 1: many *different* signed callbacks for ONE payment at once (a provider that
 * retries with new event ids, or `succeeded` racing `failed`). Inserting `provider_event` takes a
 * KEY SHARE lock on the payment row through its foreign key; each callback then asked for the
 * payment's FOR UPDATE lock and waited for the others' share locks: 40P01 deadlocks, retried at
 * once into the same deadlock, and answered 500 after up to minutes. Every callback must now be
 * answered 2xx within 2 s, with exactly one money effect.
 */

const SECRET = 'test-payment-secret-0123456789';
const hex = () => randomBytes(6).toString('hex');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '0', PLATFORM_FEE_BPS: '1000' });
});
afterAll(async () => {
  await t?.stop();
});

const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);

/** A checkout of 2 × 20.00 with a PENDING card payment opened at the (sandbox) provider. */
async function pendingCardPayment(): Promise<{ id: string; providerRef: string; amount: number }> {
  const admin = await adminToken(t.gql);
  const m = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, m.token, { variants: [{ price: '20.00', onHand: 5 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 2 }]);
  const c = (await checkout(t.gql, buyer.token, cartId, `co-${hex()}`)).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  const r = await t.gql(PAYMENT_START, { c: c.id, m: 'CARD', k: `pay-${hex()}` }, buyer.token);
  expect(r.data.paymentStart).toMatchObject({ __typename: 'Payment', status: 'PENDING' });
  const [row] = await sql<{ provider_ref: string; amount: string }>(
    'select provider_ref, amount from payment where id = $1',
    [r.data.paymentStart.id],
  );
  return { id: r.data.paymentStart.id, providerRef: row.provider_ref, amount: Number(row.amount) };
}

async function postSigned(event: object): Promise<{ status: number; ms: number }> {
  const body = JSON.stringify(event);
  const started = Date.now();
  const res = await fetch(t.url.replace(/\/graphql$/, '/webhooks/payments'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': sign(SECRET, body, Date.now() / 1000) },
    body,
    // Before the fix the answers took minutes: fail in seconds instead.
    signal: AbortSignal.timeout(15_000),
  }).catch(() => null);
  await res?.arrayBuffer();
  return { status: res?.status ?? 0, ms: Date.now() - started };
}

const event = (p: { id: string; providerRef: string; amount: number }, type: string) => ({
  id: `evt_storm_${hex()}`,
  type,
  paymentId: p.providerRef,
  amount: p.amount,
  currency: 'USD',
  reference: p.id,
  occurredAt: new Date().toISOString(),
});

/**
 * The same number of callbacks, each for a payment of its own (nothing shared, nothing to wait
 * for), measured in the same run: on a loaded machine the 2 s target is held relative to this.
 */
async function baselineMs(): Promise<number> {
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      postSigned({ ...event({ id: '0', providerRef: 'pay_none', amount: 1 }, 'payment.succeeded') }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200)); // unknown payment: recorded, ignored
  return Math.max(...answers.map((a) => a.ms));
}

test('50 concurrent distinct callbacks for one payment: 50 × 2xx within 2 s, one money effect', async () => {
  const p = await pendingCardPayment();
  const baseline = await baselineMs();
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => postSigned(event(p, 'payment.succeeded'))),
  );
  const wallMs = Date.now() - started;
  const sorted = answers.map((a) => a.ms).sort((a, b) => a - b);
  const slowest = sorted[49];
  // Reported in docs/faults.md. Before the fix: 1 processed, the rest 500 after 40P01 deadlocks,
  // the slowest after minutes (none answered within this test's 15 s per request).
  console.log(
    `callback storm: 50 distinct callbacks in ${wallMs} ms; p50 ${sorted[25]} ms, slowest ${slowest} ms; ` +
      `baseline (50 callbacks, 50 payments) slowest ${baseline} ms`,
  );

  expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
  // 2 s on an idle machine; on a loaded one, no worse than a few times the same load without contention.
  expect(slowest).toBeLessThan(Math.max(2_000, 3 * baseline));

  const [{ events }] = await sql<{ events: number }>(
    'select count(*)::int as events from provider_event where payment_id = $1',
    [p.id],
  );
  expect(events).toBe(50); // each distinct event recorded once
  const postings = await sql<{ kind: string }>(`select kind from ledger_posting where reference = $1`, [
    `payment:${p.id}`,
  ]);
  expect(postings.map((r) => r.kind)).toEqual(['PURCHASE']); // exactly one money effect
  const [pay] = await sql<{ status: string }>('select status from payment where id = $1', [p.id]);
  expect(pay.status).toBe('SUCCEEDED');
  expect(await moneyProblems((q) => sql(q))).toEqual([]);
});

test('succeeded and failed racing for one payment: every callback 2xx, one outcome', async () => {
  const p = await pendingCardPayment();
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      postSigned(event(p, i % 3 === 0 ? 'payment.failed' : 'payment.succeeded')),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
  expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(Math.max(2_000, 3 * (await baselineMs())));
  const [pay] = await sql<{ status: string }>('select status from payment where id = $1', [p.id]);
  const postings = await sql('select 1 from ledger_posting where reference = $1', [`payment:${p.id}`]);
  // Whichever came first decides; the other kind is a no-op.
  expect(postings.length).toBe(pay.status === 'SUCCEEDED' ? 1 : 0);
  expect(['SUCCEEDED', 'FAILED']).toContain(pay.status);
  expect(await moneyProblems((q) => sql(q))).toEqual([]);
});
