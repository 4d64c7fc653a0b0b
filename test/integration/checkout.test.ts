import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart, CART_FIELDS } from '../factories/shop';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '4.99', FREE_SHIPPING_ABOVE: '50.00' });
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());

const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const stock = async (variantId: string) =>
  (await sql('select on_hand, reserved, sold from variant where id = ?', [variantId]))[0];

test('a cart over two merchants checks out into two orders with reserved stock', async () => {
  const m1 = await createMerchant(t.gql, admin);
  const m2 = await createMerchant(t.gql, admin);
  const a = await createProduct(t.gql, m1.token, { variants: [{ price: '30.00', onHand: 5 }] });
  const b = await createProduct(t.gql, m2.token, {
    variants: [{ price: '10.00', onHand: 5 }],
    stockPolicy: 'DEDUCT_ON_ORDER',
  });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [
    { variantId: a.variantIds[0], quantity: 2 },
    { variantId: b.variantIds[0], quantity: 1 },
  ]);
  const cart = await t.gql(`query($id: ID) { cart(id: $id) { ${CART_FIELDS} } }`, { id: cartId });
  expect(cart.data.cart).toMatchObject({
    itemCount: 3,
    subtotal: { amount: '70.00' },
    total: { amount: '70.00' },
  });

  const r = await checkout(t.gql, buyer.token, cartId, 'k1');
  expect(r.errors).toBeUndefined();
  const c = r.data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  expect(c.orders).toHaveLength(2);
  // 60.00 ships free (>= 50), 10.00 pays 4.99
  expect(c.total.amount).toBe('74.99');
  expect(await stock(a.variantIds[0])).toEqual({ on_hand: 5, reserved: 2, sold: 0 });
  expect(await stock(b.variantIds[0])).toEqual({ on_hand: 5, reserved: 0, sold: 1 });

  const again = await checkout(t.gql, buyer.token, cartId, 'k1');
  expect(again.data.checkoutCreate.id).toBe(c.id);
  const reused = await checkout(t.gql, buyer.token, cartId, 'k1', {
    pointsToRedeem: 0,
    shippingAddress: { name: 'X', line1: '2', city: 'Y', postalCode: '1', country: 'FR' },
  });
  expect(reused.data.checkoutCreate).toMatchObject({ errorCode: 'IDEMPOTENCY_KEY_REUSED' });

  // cancel one order: its stock comes back
  const orderA = c.orders.find((o: any) => o.merchant.id === m1.id);
  const cancel = await t.gql(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename ... on Order { status version history { status } } ... on ErrorResult { errorCode } } }`,
    { id: orderA.id },
    buyer.token,
  );
  expect(cancel.data.orderCancel).toMatchObject({
    __typename: 'Order',
    status: 'CANCELLED',
    version: 2,
    history: [{ status: 'PENDING_PAYMENT' }, { status: 'CANCELLED' }],
  });
  expect(await stock(a.variantIds[0])).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
  const twice = await t.gql(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename ... on OrderStateError { from to } } }`,
    { id: orderA.id },
    buyer.token,
  );
  expect(twice.data.orderCancel).toEqual({
    __typename: 'OrderStateError',
    from: 'CANCELLED',
    to: 'CANCELLED',
  });

  const orders = await t.gql(
    `{ orders(first: 10) { totalCount edges { node { id status buyer { id } lines { sku snapshot { digest title } } } } } }`,
    {},
    buyer.token,
  );
  expect(orders.data.orders.totalCount).toBe(2);
  const other = await signUpCustomer(t.gql);
  expect(
    (await t.gql(`query($id: ID!) { order(id: $id) { id } }`, { id: orderA.id }, other.token)).data.order,
  ).toBeNull();
  expect(
    codeOf(
      await t.gql(
        `mutation($id: ID!) { orderCancel(orderId: $id) { __typename } }`,
        { id: orderA.id },
        other.token,
      ),
    ),
  ).toBe('NOT_FOUND');
});
