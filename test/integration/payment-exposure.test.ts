import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { sign } from '../../src/sandbox/signature';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Issue 12 (docs/security.md): a signed refund event applies only to a refund of the payment it
 * names, for its amount; a merchant sees its order's share of a payment, never the buyer's page.
 */
const SECRET = 'test-payment-secret-0123456789';
const hex = () => randomBytes(6).toString('hex');
let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '0' });
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());
const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);

/** A checkout over two merchants (2 × 20.00 and 1 × 15.00) with a PENDING card payment. */
async function twoMerchantCheckout() {
  const m1 = await createMerchant(t.gql, admin);
  const m2 = await createMerchant(t.gql, admin);
  const a = await createProduct(t.gql, m1.token, { variants: [{ price: '20.00', onHand: 5 }] });
  const b = await createProduct(t.gql, m2.token, { variants: [{ price: '15.00', onHand: 5 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [
    { variantId: a.variantIds[0], quantity: 2 },
    { variantId: b.variantIds[0], quantity: 1 },
  ]);
  const c = (await checkout(t.gql, buyer.token, cartId, `co-${hex()}`)).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  const pay = (await t.gql(PAYMENT_START, { c: c.id, m: 'CARD', k: `pay-${hex()}` }, buyer.token)).data
    .paymentStart;
  expect(pay).toMatchObject({ __typename: 'Payment', status: 'PENDING' });
  const [row] = await sql<{ provider_ref: string }>('select provider_ref from payment where id = $1', [
    pay.id,
  ]);
  const order1 = c.orders.find((o: any) => o.merchant.id === m1.id);
  return { m1, buyer, checkout: c, payment: { ...pay, providerRef: row.provider_ref }, order1 };
}

const ORDER_PAYMENT = `query($id: ID!) { order(id: $id) { payment { id amount { amount } refunded { amount } redirectUrl } } }`;

test("a merchant sees its order's share of the payment and no payment page; the buyer sees the page", async () => {
  const { m1, buyer, order1, payment } = await twoMerchantCheckout();
  const mine = (await t.gql(ORDER_PAYMENT, { id: order1.id }, m1.token)).data.order.payment;
  // Before: amount 55.00 (the whole checkout) and the hosted page, where `action=decline` fails the buyer's payment.
  expect(mine).toEqual({
    id: payment.id,
    amount: { amount: '40.00' },
    refunded: { amount: '0.00' },
    redirectUrl: null,
  });
  const theirs = (await t.gql(ORDER_PAYMENT, { id: order1.id }, buyer.token)).data.order.payment;
  expect(theirs).toMatchObject({ amount: { amount: '55.00' }, redirectUrl: payment.redirectUrl });
  expect(theirs.redirectUrl).toMatch(/^http/);
});

test('a signed refund.succeeded naming another payment, or another amount, is held; the matching one applies', async () => {
  const A = await twoMerchantCheckout();
  const B = await twoMerchantCheckout();
  for (const p of [A.payment, B.payment]) {
    expect(await completeOnProviderPage(p.redirectUrl)).toBeLessThan(400);
    await eventually(
      async () => (await sql('select status from payment where id = $1', [p.id]))[0].status === 'SUCCEEDED',
    );
  }
  // A refund of each payment, sent to the provider and waiting for its confirmation.
  const refund = async (paymentId: string, ref: string, amount: number) => {
    const id = String(9_000_000_000_000 + Math.floor(Math.random() * 1e9));
    await sql(
      `insert into refund (id, payment_id, amount, reason, status, provider_ref) values ($1, $2, $3, 'test', 'PENDING', $4)`,
      [id, paymentId, amount, ref],
    );
    return id;
  };
  const refA = `re_${hex()}`;
  const refB = `re_${hex()}`;
  const rA = await refund(A.payment.id, refA, 500);
  const rB = await refund(B.payment.id, refB, 700);
  const status = async (id: string) => (await sql('select status from refund where id = $1', [id]))[0].status;
  const post = async (e: { reference: string; paymentId: string; refundId: string; amount: number }) => {
    const body = JSON.stringify({
      id: `evt_${hex()}`,
      type: 'refund.succeeded',
      currency: 'USD',
      occurredAt: new Date().toISOString(),
      ...e,
    });
    const res = await fetch(t.url.replace(/\/graphql$/, '/webhooks/payments'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': sign(SECRET, body, Date.now() / 1000) },
      body,
    });
    return res.status;
  };
  const onA = { reference: A.payment.id, paymentId: A.payment.providerRef };
  // B's refund, through an event about payment A.
  expect(await post({ ...onA, refundId: refB, amount: 700 })).toBeLessThan(500);
  // A's refund with another amount.
  expect(await post({ ...onA, refundId: refA, amount: 5000 })).toBeLessThan(500);
  // A's refund, naming B's provider payment.
  expect(
    await post({ reference: A.payment.id, paymentId: B.payment.providerRef, refundId: refA, amount: 500 }),
  ).toBeLessThan(500);
  expect([await status(rA), await status(rB)]).toEqual(['PENDING', 'PENDING']);
  // The event that matches applies (once).
  expect(await post({ ...onA, refundId: refA, amount: 500 })).toBe(200);
  expect([await status(rA), await status(rB)]).toEqual(['SUCCEEDED', 'PENDING']);
});
