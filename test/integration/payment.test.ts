import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { completeOnProviderPage, eventually, orderStatus, PAYMENT_START } from '../factories/payments';
import { startTestApp, type TestApp } from '../support/app';

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '0', PLATFORM_FEE_BPS: '1000' });
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());

const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const ACCOUNT = `{ viewer { account { balance { amount } entries(first: 10) { edges { node { amount { amount } kind reference } } } } } }`;

test('a card payment on the provider page pays every order of the checkout and credits escrow', async () => {
  const m = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, m.token, { variants: [{ price: '20.00', onHand: 5 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 2 }]);
  const c = (await checkout(t.gql, buyer.token, cartId, 'pay-1')).data.checkoutCreate;
  expect(c.total.amount).toBe('40.00');

  const start = await t.gql(PAYMENT_START, { c: c.id, m: 'CARD', k: 'p1' }, buyer.token);
  const payment = start.data.paymentStart;
  expect(payment).toMatchObject({
    __typename: 'Payment',
    status: 'PENDING',
    method: 'CARD',
    amount: { amount: '40.00' },
  });
  expect(payment.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/pay\//);
  // The same key returns the same payment.
  expect(
    (await t.gql(PAYMENT_START, { c: c.id, m: 'CARD', k: 'p1' }, buyer.token)).data.paymentStart.id,
  ).toBe(payment.id);

  expect(await completeOnProviderPage(payment.redirectUrl)).toBe(303);
  await eventually(async () => (await orderStatus(t.gql, buyer.token, c.orders[0].id)) === 'PAID');
  const [v] = await sql('select reserved, sold from variant where id = ?', [p.variantIds[0]]);
  expect(v).toEqual({ reserved: 0, sold: 2 });
  const [escrow] = await sql(
    // The escrow is striped: its balance is the sum of its stripes.
    `select sum(balance) as balance from ledger_account where owner_type = 'MERCHANT' and owner_id = ? and kind = 'ESCROW'`,
    [m.id],
  );
  expect(Number(escrow.balance)).toBe(3600); // 40.00 less a 10% fee
  // The merchant sees it too.
  const seen = await t.gql(
    `{ viewer { escrow { balance { amount } } account { balance { amount } } } }`,
    {},
    m.token,
  );
  expect(seen.data.viewer).toEqual({
    escrow: { balance: { amount: '36.00' } },
    account: { balance: { amount: '0.00' } },
  });
  expect(await t.app.services.ledger.checkInvariants(t.app.orm.em.fork() as any)).toEqual([]);
});

test('a balance payment settles at once after a card top-up; an insufficient balance charges nothing', async () => {
  const m = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, m.token, { variants: [{ price: '30.00', onHand: 5 }] });
  const buyer = await signUpCustomer(t.gql);
  const c1 = (
    await checkout(
      t.gql,
      buyer.token,
      await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]),
      'b-1',
    )
  ).data.checkoutCreate;
  const short = await t.gql(PAYMENT_START, { c: c1.id, m: 'BALANCE', k: 'b1' }, buyer.token);
  expect(short.data.paymentStart).toMatchObject({
    __typename: 'InsufficientFundsError',
    errorCode: 'INSUFFICIENT_FUNDS',
    balance: { amount: '0.00' },
  });

  const topUp = await t.gql(
    `mutation { accountTopUp(amount: "50.00", idempotencyKey: "t1") { ... on Payment { status redirectUrl } } }`,
    {},
    buyer.token,
  );
  expect(topUp.data.accountTopUp.status).toBe('PENDING');
  await completeOnProviderPage(topUp.data.accountTopUp.redirectUrl);
  await eventually(
    async () => (await t.gql(ACCOUNT, {}, buyer.token)).data.viewer.account.balance.amount === '50.00',
  );

  const paid = await t.gql(PAYMENT_START, { c: c1.id, m: 'BALANCE', k: 'b2' }, buyer.token);
  expect(paid.data.paymentStart).toMatchObject({
    __typename: 'Payment',
    status: 'SUCCEEDED',
    method: 'BALANCE',
  });
  expect(await orderStatus(t.gql, buyer.token, c1.orders[0].id)).toBe('PAID');
  const account = (await t.gql(ACCOUNT, {}, buyer.token)).data.viewer.account;
  expect(account.balance.amount).toBe('20.00');
  expect(account.entries.edges.map((e: any) => [e.node.kind, e.node.amount.amount])).toEqual([
    ['PURCHASE', '-30.00'],
    ['TOP_UP', '50.00'],
  ]);
  expect(await t.app.services.ledger.checkInvariants(t.app.orm.em.fork() as any)).toEqual([]);
});
