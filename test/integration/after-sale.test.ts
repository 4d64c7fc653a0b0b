import { randomBytes } from 'node:crypto';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf, type GqlResponse } from '../support/client';
import { LEDGER_CHECKS, moneyProblems, PAYMENT_CHECKS, STOCK_CHECKS } from '../support/money-invariants';
import { grantPoints } from '../factories/loyalty';
import { sign } from '../../src/shared/signature';
import { REVIEW_JOB } from '../../src/modules/aftersale/aftersale.service';

/**
 * After-sale (issue 5, part 5) through the GraphQL API of the real server: each type's flow,
 * exact refunds (discounts, points, shipping), claims under concurrency, idempotency, permissions,
 * the review deadline, and the money and stock invariants.
 */

type Customer = { token: string; id: string; email: string };
type Merchant = { id: string; token: string };
type Line = { id: string; variantId: string; quantity: number; total: number };
type Paid = { orderId: string; lines: Line[]; total: number; shippingFee: number };

const uid = () => randomBytes(4).toString('hex');
const cents = (amount: string) => Math.round(Number(amount) * 100);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const AS_FIELDS = `id orderId type status reason lines { orderLineId quantity } refundAmount { amount currency }
  returnAddress { name line1 city postalCode country } returnShipment { id carrier trackingNumber status }
  exchangeShipment { id carrier trackingNumber } reviewDeadline reviewNote createdAt`;
const RESULT = `__typename ... on AfterSale { ${AS_FIELDS} } ... on UserError { errorCode message field }`;
const REQUEST = `mutation($i: AfterSaleRequestInput!) { afterSaleRequest(input: $i) { ${RESULT} } }`;
const REVIEW = `mutation($id: ID!, $ok: Boolean!, $note: String, $addr: AddressInput) {
  afterSaleReview(id: $id, approve: $ok, note: $note, returnAddress: $addr) { ${RESULT} } }`;
const RETURN_SHIP = `mutation($id: ID!, $c: String!, $n: String!) { afterSaleReturnShip(id: $id, carrier: $c, trackingNumber: $n) { ${RESULT} } }`;
const RECEIVE = `mutation($id: ID!, $c: String, $n: String) { afterSaleReceive(id: $id, exchangeCarrier: $c, exchangeTrackingNumber: $n) { ${RESULT} } }`;
const AFTER_SALE = `query($id: ID!) { afterSale(id: $id) { ${AS_FIELDS} } }`;
const ORDER = `query($id: ID!) { order(id: $id) { id status total { amount } shippingFee { amount } payment { status amount { amount } refunded { amount } }
  lines { id variantId quantity lineTotal { amount } }
  afterSales { id status type lines { orderLineId quantity } }
  history { type status afterSale { id status } } } }`;
const BALANCE = `{ viewer { account { balance { amount } } } }`;
const RETURN_ADDRESS = {
  name: 'Returns desk',
  line1: '9 Depot Road',
  city: 'Hamburg',
  postalCode: '20095',
  country: 'DE',
};

function expectClean(rs: GqlResponse[]) {
  const bad = rs.filter((r) => r.status !== 200 || r.errors !== undefined || !r.data);
  expect(bad.map((r) => ({ status: r.status, errors: r.errors }))).toEqual([]);
}

/** One server (and its own database, provider and jobs) with the helpers that drive it. */
function world(env: Record<string, string>) {
  const w = {
    t: undefined as unknown as TestApp,
    admin: '',
    sql: async (q: string, params: unknown[] = []) =>
      (await w.t.app.orm.em.fork().getConnection().execute(q, params)) as any[],
    em: () => w.t.app.orm.em.fork() as any,
    gql: (q: string, v: Record<string, unknown> = {}, token?: string) => w.t.gql(q, v, token),

    async start() {
      w.t = await startTestApp({
        DB_POOL_SIZE: '20',
        PLATFORM_FEE_BPS: '1000',
        SHIPPING_FEE: '4.99',
        FREE_SHIPPING_ABOVE: 'none',
        ...env,
      });
      w.admin = await adminToken(w.t.gql);
    },

    balance: async (c: Customer) =>
      cents((await w.gql(BALANCE, {}, c.token)).data.viewer.account.balance.amount),

    /** A customer with `amount` on their balance, topped up by card on the provider's page. */
    async richCustomer(amount = '2000.00'): Promise<Customer> {
      const c = await signUpCustomer(w.t.gql);
      const r = await w.gql(
        `mutation($a: String!) { accountTopUp(amount: $a, idempotencyKey: "top") { ... on Payment { redirectUrl } } }`,
        { a: amount },
        c.token,
      );
      expect(await completeOnProviderPage(r.data.accountTopUp.redirectUrl)).toBe(303);
      await eventually(async () => (await w.balance(c)) === cents(amount));
      return c;
    },

    /** A PAID order, paid from the balance; optionally with a coupon and points. */
    async paidOrder(
      buyer: Customer,
      items: { variantId: string; quantity: number }[],
      opts: { coupon?: string; points?: number } = {},
    ): Promise<Paid> {
      const cartId = await createCart(w.t.gql, items);
      if (opts.coupon) {
        const applied = await w.gql(
          `mutation($c: ID!, $code: String!) { cartCouponApply(cartId: $c, code: $code) { __typename } }`,
          { c: cartId, code: opts.coupon },
        );
        expect(applied.data.cartCouponApply.__typename).toBe('Cart');
      }
      const co = (
        await checkout(
          w.t.gql,
          buyer.token,
          cartId,
          `co-${uid()}`,
          opts.points ? { pointsToRedeem: opts.points } : {},
        )
      ).data.checkoutCreate;
      expect(co.__typename).toBe('Checkout');
      const paid = (await w.gql(PAYMENT_START, { c: co.id, m: 'BALANCE', k: `pay-${uid()}` }, buyer.token))
        .data.paymentStart;
      expect(paid).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
      return w.orderOf(buyer, co.orders[0].id);
    },

    async orderOf(buyer: Customer, orderId: string): Promise<Paid> {
      const o = (await w.gql(ORDER, { id: orderId }, buyer.token)).data.order;
      return {
        orderId,
        total: cents(o.total.amount),
        shippingFee: cents(o.shippingFee.amount),
        lines: o.lines.map((l: any) => ({
          id: l.id,
          variantId: l.variantId,
          quantity: l.quantity,
          total: cents(l.lineTotal.amount),
        })),
      };
    },

    async order(token: string, orderId: string) {
      return (await w.gql(ORDER, { id: orderId }, token)).data.order;
    },

    /** A signed carrier event on the logistics webhook. */
    async carrier(carrier: string, trackingNumber: string, status: string) {
      const body = JSON.stringify({
        id: `ev-${uid()}`,
        carrier,
        trackingNumber,
        status,
        location: 'Hub',
        description: status,
        occurredAt: new Date().toISOString(),
      });
      const res = await fetch(w.t.url.replace(/\/graphql$/, '/webhooks/logistics'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': sign(w.t.app.config.logisticsWebhookSecret, body, Date.now() / 1000),
        },
        body,
      });
      expect(res.status).toBe(200);
    },

    /** The merchant ships the order (orderShip) and the carrier reports it delivered (webhook). */
    async deliver(m: Merchant, buyer: Customer, orderId: string) {
      const tracking = `TRK${uid()}`;
      const shipped = await w.gql(
        `mutation($o: ID!, $n: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $n) { __typename ... on ErrorResult { errorCode message } } }`,
        { o: orderId, n: tracking },
        m.token,
      );
      expect(shipped.data.orderShip.__typename).toBe('Shipment');
      await w.carrier('DHL', tracking, 'DELIVERED');
      expect((await w.order(buyer.token, orderId)).status).toBe('DELIVERED');
    },

    request(
      token: string,
      orderId: string,
      type: string,
      lines: { orderLineId: string; quantity: number }[],
      key = `k-${uid()}`,
      reason = 'Not as described',
    ) {
      return w.gql(REQUEST, { i: { orderId, type, lines, reason, idempotencyKey: key } }, token);
    },

    /** A request that must succeed; its after-sale. */
    async requested(
      token: string,
      orderId: string,
      type: string,
      lines: { orderLineId: string; quantity: number }[],
    ) {
      const r = await w.request(token, orderId, type, lines);
      expect(r.errors).toBeUndefined();
      expect(r.data.afterSaleRequest).toMatchObject({ __typename: 'AfterSale', status: 'REQUESTED', type });
      return r.data.afterSaleRequest;
    },

    async review(token: string, id: string, approve: boolean, extra: { note?: string; addr?: object } = {}) {
      return w.gql(REVIEW, { id, ok: approve, note: extra.note, addr: extra.addr }, token);
    },

    sold: async (variantId: string) =>
      Number((await w.sql('select sold from variant where id = ?', [variantId]))[0].sold),

    /** Every money and stock invariant; returned units are subtracted from what paid orders sold. */
    async expectInvariants() {
      expect(await w.t.app.services.ledger.checkInvariants(w.em())).toEqual([]);
      const stock = { ...STOCK_CHECKS };
      delete stock[
        'variant sold is not the units of its paid orders (plus DEDUCT_ON_ORDER units awaiting payment)'
      ];
      expect(Object.keys(stock)).toHaveLength(Object.keys(STOCK_CHECKS).length - 1);
      stock['variant sold is the units of its paid orders less the units after-sales returned to stock'] = `
        select v.id, v.sold, coalesce(x.units, 0) - coalesce(y.back, 0) as expected from variant v
          left join (select ol.variant_id, sum(ol.quantity)::int as units from order_line ol join shop_order o on o.id = ol.order_id
                      where o.status in ('PAID', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'REFUNDED')
                         or (o.status = 'PENDING_PAYMENT' and ol.stock_policy = 'DEDUCT_ON_ORDER')
                      group by ol.variant_id) x on x.variant_id = v.id
          left join (select ol.variant_id, sum(asl.quantity)::int as back from after_sale a
                       join after_sale_line asl on asl.after_sale_id = a.id join order_line ol on ol.id = asl.order_line_id
                      where a.restocked_at is not null group by ol.variant_id) y on y.variant_id = v.id
         where v.sold <> coalesce(x.units, 0) - coalesce(y.back, 0)`;
      stock['claims exceed what an order line sold'] = `
        select ol.id, ol.quantity, sum(asl.quantity)::int as claimed from order_line ol
          join after_sale_line asl on asl.order_line_id = ol.id join after_sale a on a.id = asl.after_sale_id
         where a.status not in ('REJECTED', 'CANCELLED') group by ol.id, ol.quantity having sum(asl.quantity) > ol.quantity`;
      stock['refunded after-sales of a line refunded more than its total'] = `
        select ol.id, ol.total, sum(asl.refund_amount)::bigint as refunded from order_line ol
          join after_sale_line asl on asl.order_line_id = ol.id join after_sale a on a.id = asl.after_sale_id
         where a.status = 'REFUNDED' group by ol.id, ol.total having sum(asl.refund_amount) > ol.total`;
      stock['an after-sale refund is not its refund row'] = `
        select a.id, a.refund_amount, r.amount from after_sale a left join refund r on r.id = a.refund_id
         where a.status = 'REFUNDED' and coalesce(r.amount, 0) <> a.refund_amount`;
      expect(await moneyProblems((q) => w.sql(q), { ...LEDGER_CHECKS, ...PAYMENT_CHECKS, ...stock })).toEqual(
        [],
      );
    },
  };
  return w;
}

const w = world({});
let merchant: Merchant;
let buyer: Customer;

beforeAll(async () => {
  await w.start();
  merchant = await createMerchant(w.t.gql, w.admin);
  buyer = await w.richCustomer();
}, 120_000);
afterAll(() => w.t?.stop());

async function product(m: Merchant, price: string, onHand = 100) {
  return (await createProduct(w.t.gql, m.token, { variants: [{ price, onHand }] })).variantIds[0];
}

describe('REFUND_ONLY', () => {
  test('before shipping: approval refunds the units at once and puts them back in stock; the last unit brings the shipping fee and REFUNDED', async () => {
    const v = await product(merchant, '12.50');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 2 }]);
    expect(o).toMatchObject({ total: 2500 + 499, shippingFee: 499, lines: [{ quantity: 2, total: 2500 }] });
    const soldBefore = await w.sold(v);
    const before = await w.balance(buyer);

    const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect(a).toMatchObject({
      orderId: o.orderId,
      reason: 'Not as described',
      lines: [{ orderLineId: o.lines[0].id, quantity: 1 }],
      refundAmount: { amount: '12.50' },
    });
    const deadline = new Date(a.reviewDeadline).getTime() - new Date(a.createdAt).getTime();
    expect(Math.abs(deadline - 24 * 3600 * 1000)).toBeLessThan(5000);

    const approved = (await w.review(merchant.token, a.id, true, { note: 'Sorry about that' })).data
      .afterSaleReview;
    expect(approved).toMatchObject({
      __typename: 'AfterSale',
      status: 'REFUNDED',
      refundAmount: { amount: '12.50' },
      reviewNote: 'Sorry about that',
      reviewDeadline: null,
    });
    expect(await w.balance(buyer)).toBe(before + 1250);
    expect(await w.sold(v)).toBe(soldBefore - 1);
    expect((await w.order(buyer.token, o.orderId)).status).toBe('PAID');

    const b = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect(b.refundAmount).toEqual({ amount: '12.50', currency: 'USD' });
    const second = (await w.review(merchant.token, b.id, true)).data.afterSaleReview;
    // The whole order came back: the shipping fee too.
    expect(second).toMatchObject({ status: 'REFUNDED', refundAmount: { amount: '17.49' } });
    expect(await w.balance(buyer)).toBe(before + o.total);
    expect(await w.sold(v)).toBe(soldBefore - 2);

    const order = await w.order(buyer.token, o.orderId);
    expect(order.status).toBe('REFUNDED');
    expect(order.payment).toMatchObject({ status: 'REFUNDED' });
    expect(order.afterSales.map((x: any) => [x.id, x.status])).toEqual([
      [a.id, 'REFUNDED'],
      [b.id, 'REFUNDED'],
    ]);
    // Every change is an order event, and the event resolves its after-sale.
    const asEvents = order.history.filter((e: any) => e.type === 'AFTER_SALE_UPDATED');
    expect(asEvents.map((e: any) => e.afterSale.id)).toEqual([a.id, a.id, a.id, b.id, b.id, b.id]);
    expect(order.history.at(-1)).toMatchObject({ type: 'AFTER_SALE_UPDATED', status: 'REFUNDED' });

    // Nothing more to claim, and a REFUNDED order takes no requests.
    expect(
      (await w.request(buyer.token, o.orderId, 'REFUND_ONLY', [{ orderLineId: o.lines[0].id, quantity: 1 }]))
        .data.afterSaleRequest,
    ).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      message: 'No after-sale request is possible on a REFUNDED order',
    });
    await w.expectInvariants();
  });

  test('after delivery: refunded, but the units stay sold (they left the warehouse)', async () => {
    const v = await product(merchant, '9.99');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 3 }]);
    await w.deliver(merchant, buyer, o.orderId);
    const sold = await w.sold(v);
    const before = await w.balance(buyer);
    const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 2 },
    ]);
    const r = (await w.review(merchant.token, a.id, true)).data.afterSaleReview;
    expect(r).toMatchObject({ status: 'REFUNDED', refundAmount: { amount: '19.98' } });
    expect(await w.balance(buyer)).toBe(before + 1998);
    expect(await w.sold(v)).toBe(sold);
    expect((await w.order(buyer.token, o.orderId)).status).toBe('DELIVERED');
    await w.expectInvariants();
  });
});

describe('RETURN_AND_REFUND', () => {
  test('approve with an address, the buyer ships, the merchant receives: stock back once, refund exact, retries change nothing', async () => {
    const m = await createMerchant(w.t.gql, w.admin);
    const v = await product(m, '30.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 2 }]);
    const early = await w.request(buyer.token, o.orderId, 'RETURN_AND_REFUND', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect(early.data.afterSaleRequest).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      message: 'A return is possible once the order is delivered',
    });
    await w.deliver(m, buyer, o.orderId);

    const a = await w.requested(buyer.token, o.orderId, 'RETURN_AND_REFUND', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    // This merchant never gave a return address: approving needs one.
    const noAddress = await w.review(m.token, a.id, true);
    expect(codeOf(noAddress)).toBe('BAD_USER_INPUT');
    const approved = (await w.review(m.token, a.id, true, { addr: RETURN_ADDRESS })).data.afterSaleReview;
    expect(approved).toMatchObject({
      status: 'APPROVED',
      returnAddress: RETURN_ADDRESS,
      returnShipment: null,
      refundAmount: { amount: '30.00' },
    });
    // The same decision again is a no-op; the opposite one is refused.
    expect(
      (await w.review(m.token, a.id, true, { addr: RETURN_ADDRESS })).data.afterSaleReview,
    ).toMatchObject({ status: 'APPROVED' });
    expect(
      (await w.review(m.token, a.id, false, { note: 'changed my mind' })).data.afterSaleReview,
    ).toMatchObject({ errorCode: 'AFTER_SALE_NOT_ALLOWED' });

    // Receiving before the parcel was reported is refused; the merchant cannot report the buyer's parcel.
    expect((await w.gql(RECEIVE, { id: a.id }, m.token)).data.afterSaleReceive).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
    });
    expect(codeOf(await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: 'RET1' }, m.token))).toBe('FORBIDDEN');
    const shipped = (await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, buyer.token)).data
      .afterSaleReturnShip;
    expect(shipped).toMatchObject({
      status: 'RETURN_SHIPPED',
      returnShipment: { carrier: 'UPS', trackingNumber: `RET${a.id}`, status: 'LABEL_CREATED' },
    });
    expect(
      (await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, buyer.token)).data
        .afterSaleReturnShip,
    ).toMatchObject({ status: 'RETURN_SHIPPED' });
    expect(
      (await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: 'OTHER' }, buyer.token)).data.afterSaleReturnShip,
    ).toMatchObject({ errorCode: 'AFTER_SALE_NOT_ALLOWED' });
    // The return parcel is tracked like any other.
    await w.carrier('UPS', `RET${a.id}`, 'IN_TRANSIT');
    expect((await w.gql(AFTER_SALE, { id: a.id }, buyer.token)).data.afterSale.returnShipment.status).toBe(
      'IN_TRANSIT',
    );

    const sold = await w.sold(v);
    const before = await w.balance(buyer);
    expect(codeOf(await w.gql(RECEIVE, { id: a.id, c: 'DHL', n: 'X' }, m.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await w.gql(RECEIVE, { id: a.id }, buyer.token))).toBe('FORBIDDEN');
    const received = await Promise.all(range(5).map(() => w.gql(RECEIVE, { id: a.id }, m.token)));
    expectClean(received);
    for (const r of received)
      expect(r.data.afterSaleReceive).toMatchObject({
        status: 'REFUNDED',
        refundAmount: { amount: '30.00' },
      });
    expect(await w.sold(v)).toBe(sold - 1);
    expect(await w.balance(buyer)).toBe(before + 3000);
    expect(await w.sql('select count(*)::int as n from refund where order_id = ?', [o.orderId])).toEqual([
      { n: 1 },
    ]);

    // The next return of this merchant reuses the last address given.
    const b = await w.requested(buyer.token, o.orderId, 'RETURN_AND_REFUND', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect((await w.review(m.token, b.id, true)).data.afterSaleReview).toMatchObject({
      status: 'APPROVED',
      returnAddress: RETURN_ADDRESS,
    });
    await w.expectInvariants();
  });

  test('after completion the refund comes from the merchant’s available balance; no request once the window closed', async () => {
    const m = await createMerchant(w.t.gql, w.admin);
    const v = await product(m, '40.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 1 }]);
    await w.deliver(m, buyer, o.orderId);
    const confirmed = await w.gql(
      `mutation($o: ID!) { orderConfirmReceipt(orderId: $o) { __typename ... on Order { status } } }`,
      { o: o.orderId },
      buyer.token,
    );
    expect(confirmed.data.orderConfirmReceipt).toEqual({ __typename: 'Order', status: 'COMPLETED' });

    const a = await w.requested(buyer.token, o.orderId, 'RETURN_AND_REFUND', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    await w.review(m.token, a.id, true, { addr: RETURN_ADDRESS });
    await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, buyer.token);
    const r = (await w.gql(RECEIVE, { id: a.id }, m.token)).data.afterSaleReceive;
    expect(r).toMatchObject({
      status: 'REFUNDED',
      refundAmount: { amount: `${((4000 + 499) / 100).toFixed(2)}` },
    });
    expect((await w.order(buyer.token, o.orderId)).status).toBe('REFUNDED');

    const late = await w.paidOrder(buyer, [{ variantId: v, quantity: 1 }]);
    await w.deliver(m, buyer, late.orderId);
    await w.sql(`update shop_order set delivered_at = now() - interval '15 days' where id = ?`, [
      late.orderId,
    ]);
    for (const type of ['REFUND_ONLY', 'RETURN_AND_REFUND', 'EXCHANGE']) {
      expect(
        (await w.request(buyer.token, late.orderId, type, [{ orderLineId: late.lines[0].id, quantity: 1 }]))
          .data.afterSaleRequest,
      ).toMatchObject({
        errorCode: 'AFTER_SALE_NOT_ALLOWED',
        message: 'After-sale requests are possible up to 14 days after delivery',
      });
    }
    await w.expectInvariants();
  });
});

describe('EXCHANGE', () => {
  test('the replacement ships on receipt (stock and money unchanged) and the exchange completes when it is delivered', async () => {
    const v = await product(merchant, '25.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 1 }]);
    await w.deliver(merchant, buyer, o.orderId);
    const a = await w.requested(buyer.token, o.orderId, 'EXCHANGE', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect(a.refundAmount).toBeNull();
    await w.review(merchant.token, a.id, true, { addr: RETURN_ADDRESS });
    await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, buyer.token);
    const sold = await w.sold(v);
    const before = await w.balance(buyer);

    expect(codeOf(await w.gql(RECEIVE, { id: a.id }, merchant.token))).toBe('BAD_USER_INPUT');
    const out = (await w.gql(RECEIVE, { id: a.id, c: 'DHL', n: `EXC${a.id}` }, merchant.token)).data
      .afterSaleReceive;
    expect(out).toMatchObject({
      status: 'EXCHANGE_SHIPPED',
      refundAmount: null,
      exchangeShipment: { carrier: 'DHL', trackingNumber: `EXC${a.id}` },
    });
    expect(
      (await w.gql(RECEIVE, { id: a.id, c: 'DHL', n: `EXC${a.id}` }, merchant.token)).data.afterSaleReceive,
    ).toMatchObject({ status: 'EXCHANGE_SHIPPED' });
    expect(
      (await w.gql(RECEIVE, { id: a.id, c: 'DHL', n: 'OTHER' }, merchant.token)).data.afterSaleReceive,
    ).toMatchObject({ errorCode: 'AFTER_SALE_NOT_ALLOWED' });
    expect(await w.sold(v)).toBe(sold);
    expect(await w.balance(buyer)).toBe(before);

    await w.carrier('DHL', `EXC${a.id}`, 'DELIVERED');
    expect((await w.gql(AFTER_SALE, { id: a.id }, buyer.token)).data.afterSale.status).toBe('COMPLETED');
    const order = await w.order(buyer.token, o.orderId);
    expect(order.status).toBe('DELIVERED');
    // Exchanged units stay claimed.
    expect(
      (await w.request(buyer.token, o.orderId, 'REFUND_ONLY', [{ orderLineId: o.lines[0].id, quantity: 1 }]))
        .data.afterSaleRequest,
    ).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      field: 'lines',
    });
    await w.expectInvariants();
  });
});

describe('refund amounts', () => {
  test('a discounted order paid partly with points: shares add up to each line total, the order ends REFUNDED with everything paid back', async () => {
    const code = `AS${uid()}`.toUpperCase();
    const c = await w.gql(
      `mutation($i: CouponCreateInput!) { couponCreate(input: $i) { code } }`,
      { i: { code, description: 'test', kind: 'PERCENT', value: '15' } },
      w.admin,
    );
    expect(c.errors).toBeUndefined();
    const shopper = await w.richCustomer('500.00');
    await grantPoints(w.em(), shopper.id, 1000);
    const v1 = await product(merchant, '19.99');
    const v2 = await product(merchant, '7.77');
    const o = await w.paidOrder(
      shopper,
      [
        { variantId: v1, quantity: 3 },
        { variantId: v2, quantity: 2 },
      ],
      { coupon: code, points: 333 },
    );
    const [l1, l2] = [o.lines.find((l) => l.variantId === v1)!, o.lines.find((l) => l.variantId === v2)!];
    // Discounts and points are in the line totals (so a unit is worth less than its price).
    expect(l1.total).toBeLessThan(3 * 1999);
    expect(l1.total + l2.total + o.shippingFee).toBe(o.total);
    await w.deliver(merchant, shopper, o.orderId);
    const before = await w.balance(shopper);

    const refunds: number[] = [];
    const refund = async (type: string, lines: { orderLineId: string; quantity: number }[]) => {
      const a = await w.requested(shopper.token, o.orderId, type, lines);
      let r = (await w.review(merchant.token, a.id, true, { addr: RETURN_ADDRESS })).data.afterSaleReview;
      if (type === 'RETURN_AND_REFUND') {
        await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, shopper.token);
        r = (await w.gql(RECEIVE, { id: a.id }, merchant.token)).data.afterSaleReceive;
      }
      expect(r.status).toBe('REFUNDED');
      refunds.push(cents(r.refundAmount.amount));
      return cents(r.refundAmount.amount);
    };
    const first = await refund('REFUND_ONLY', [{ orderLineId: l1.id, quantity: 1 }]);
    expect(first).toBe(Math.floor(l1.total / 3));
    const rest = await refund('RETURN_AND_REFUND', [{ orderLineId: l1.id, quantity: 2 }]);
    expect(first + rest).toBe(l1.total);
    expect((await w.order(shopper.token, o.orderId)).status).toBe('DELIVERED');
    const last = await refund('REFUND_ONLY', [{ orderLineId: l2.id, quantity: 2 }]);
    expect(last).toBe(l2.total + o.shippingFee);
    expect(refunds.reduce((a, b) => a + b, 0)).toBe(o.total);

    const order = await w.order(shopper.token, o.orderId);
    expect(order.status).toBe('REFUNDED');
    expect(order.payment).toMatchObject({ status: 'REFUNDED' });
    expect(await w.balance(shopper)).toBe(before + o.total);
    // Refunded in full: the 333 points it was paid with came back (docs/loyalty.md).
    expect((await w.gql(`{ viewer { points } }`, {}, shopper.token)).data.viewer.points).toBe(1000);
    await w.expectInvariants();
  });

  test('a refund never exceeds what is left to refund (an admin refunded part of the order first)', async () => {
    const v = await product(merchant, '10.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 2 }]);
    const admin = await w.gql(
      `mutation($o: ID!) { orderRefund(orderId: $o, amount: "20.00", reason: "goodwill", idempotencyKey: "adm-${uid()}") { __typename } }`,
      { o: o.orderId },
      w.admin,
    );
    expect(admin.data.orderRefund.__typename).toBe('Order');
    const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    const b = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    const r = (await w.review(merchant.token, a.id, true)).data.afterSaleReview;
    expect(r).toMatchObject({ status: 'REFUNDED', refundAmount: { amount: '4.99' } });
    // Nothing left: an approval finds the order REFUNDED and cancels the request.
    expect((await w.review(merchant.token, b.id, true)).data.afterSaleReview).toMatchObject({
      status: 'CANCELLED',
      refundAmount: null,
    });
    const order = await w.order(buyer.token, o.orderId);
    expect(order.status).toBe('REFUNDED');
    expect(order.payment.refunded.amount).toBe(order.payment.amount.amount);
    await w.expectInvariants();
  });
});

describe('requests', () => {
  test('lines and quantities are limited to what was bought and not claimed; a rejection releases its units', async () => {
    const v1 = await product(merchant, '5.00');
    const v2 = await product(merchant, '6.00');
    const o = await w.paidOrder(buyer, [
      { variantId: v1, quantity: 2 },
      { variantId: v2, quantity: 1 },
    ]);
    const other = await w.paidOrder(buyer, [{ variantId: v1, quantity: 1 }]);
    const [l1, l2] = o.lines;
    const ask = (lines: { orderLineId: string; quantity: number }[], type = 'REFUND_ONLY') =>
      w.request(buyer.token, o.orderId, type, lines);

    expect((await ask([{ orderLineId: l1.id, quantity: 3 }])).data.afterSaleRequest).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      field: 'lines',
    });
    expect(codeOf(await ask([{ orderLineId: other.lines[0].id, quantity: 1 }]))).toBe('BAD_USER_INPUT');
    expect(codeOf(await ask([{ orderLineId: 'abc', quantity: 1 }]))).toBe('BAD_USER_INPUT');
    expect(codeOf(await ask([{ orderLineId: l1.id, quantity: 0 }]))).toBe('BAD_USER_INPUT');
    expect(codeOf(await ask([]))).toBe('BAD_USER_INPUT');
    expect(
      codeOf(
        await ask([
          { orderLineId: l1.id, quantity: 1 },
          { orderLineId: l1.id, quantity: 1 },
        ]),
      ),
    ).toBe('BAD_USER_INPUT');
    expect(
      codeOf(
        await w.request(
          buyer.token,
          o.orderId,
          'REFUND_ONLY',
          [{ orderLineId: l1.id, quantity: 1 }],
          'k',
          '   ',
        ),
      ),
    ).toBe('BAD_USER_INPUT');

    const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: l1.id, quantity: 2 },
      { orderLineId: l2.id, quantity: 1 },
    ]);
    expect(a.refundAmount.amount).toBe('16.00');
    expect((await ask([{ orderLineId: l1.id, quantity: 1 }])).data.afterSaleRequest).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      message: `Order line ${l1.id}: 1 requested, but only 0 of 2 bought are not claimed already`,
    });
    expect(codeOf(await w.review(merchant.token, a.id, false))).toBe('BAD_USER_INPUT'); // a rejection needs a note
    const rejected = (await w.review(merchant.token, a.id, false, { note: 'Used items cannot be refunded' }))
      .data.afterSaleReview;
    expect(rejected).toMatchObject({
      status: 'REJECTED',
      reviewNote: 'Used items cannot be refunded',
      refundAmount: null,
    });
    expect(
      (await w.review(merchant.token, a.id, false, { note: 'again' })).data.afterSaleReview,
    ).toMatchObject({ status: 'REJECTED' });
    expect((await w.review(merchant.token, a.id, true)).data.afterSaleReview).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
    });
    await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [{ orderLineId: l1.id, quantity: 2 }]);

    // Unpaid and cancelled orders take no request.
    const cartId = await createCart(w.t.gql, [{ variantId: v1, quantity: 1 }]);
    const unpaid = (await checkout(w.t.gql, buyer.token, cartId, `co-${uid()}`)).data.checkoutCreate
      .orders[0];
    const unpaidLine = (await w.order(buyer.token, unpaid.id)).lines[0].id;
    expect(
      (await w.request(buyer.token, unpaid.id, 'REFUND_ONLY', [{ orderLineId: unpaidLine, quantity: 1 }]))
        .data.afterSaleRequest,
    ).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      message: 'No after-sale request is possible on a PENDING_PAYMENT order',
    });
    await w.gql(
      `mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`,
      { o: unpaid.id },
      buyer.token,
    );
    expect(
      (await w.request(buyer.token, unpaid.id, 'REFUND_ONLY', [{ orderLineId: unpaidLine, quantity: 1 }]))
        .data.afterSaleRequest,
    ).toMatchObject({
      errorCode: 'AFTER_SALE_NOT_ALLOWED',
      message: 'No after-sale request is possible on a CANCELLED order',
    });
  });

  test('20 concurrent requests for the units of one line: exactly as many succeed as units were bought', async () => {
    const v = await product(merchant, '3.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 5 }]);
    await w.deliver(merchant, buyer, o.orderId);
    const rs = await Promise.all(
      range(20).map(() =>
        w.request(buyer.token, o.orderId, 'REFUND_ONLY', [{ orderLineId: o.lines[0].id, quantity: 1 }]),
      ),
    );
    expectClean(rs);
    const kinds = rs.map((r) => r.data.afterSaleRequest.__typename ?? r.data.afterSaleRequest.errorCode);
    expect(kinds.filter((k) => k === 'AfterSale')).toHaveLength(5);
    expect(rs.filter((r) => r.data.afterSaleRequest.errorCode === 'AFTER_SALE_NOT_ALLOWED')).toHaveLength(15);

    // Mixed quantities on another order: never more than bought.
    const o2 = await w.paidOrder(buyer, [{ variantId: v, quantity: 5 }]);
    await w.deliver(merchant, buyer, o2.orderId);
    const mixed = await Promise.all(
      range(20).map((i) =>
        w.request(buyer.token, o2.orderId, i % 2 ? 'RETURN_AND_REFUND' : 'REFUND_ONLY', [
          { orderLineId: o2.lines[0].id, quantity: 1 + (i % 3) },
        ]),
      ),
    );
    expectClean(mixed);
    const granted = mixed
      .filter((r) => r.data.afterSaleRequest.__typename === 'AfterSale')
      .reduce((n, r) => n + r.data.afterSaleRequest.lines[0].quantity, 0);
    expect(granted).toBeLessThanOrEqual(5);
    expect(granted).toBeGreaterThanOrEqual(3);
    const [{ claimed }] = await w.sql(
      `select sum(quantity)::int as claimed from after_sale_line where order_line_id = ?`,
      [o2.lines[0].id],
    );
    expect(claimed).toBe(granted);
    await w.expectInvariants();
  });

  test('the same key 10 times at once makes one after-sale; with other input it is IDEMPOTENCY_KEY_REUSED', async () => {
    const v = await product(merchant, '8.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 2 }]);
    const lines = [{ orderLineId: o.lines[0].id, quantity: 1 }];
    const rs = await Promise.all(
      range(10).map(() => w.request(buyer.token, o.orderId, 'REFUND_ONLY', lines, 'same-key')),
    );
    expectClean(rs);
    const ids = new Set(rs.map((r) => r.data.afterSaleRequest.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await w.sql('select count(*)::int as n from after_sale where order_id = ?', [o.orderId])).toEqual([
      { n: 1 },
    ]);
    expect(await w.sql(`select count(*)::int as n from order_event where after_sale_id = ?`, [id])).toEqual([
      { n: 1 },
    ]);
    expect(
      await w.sql(`select count(*)::int as n from pgboss.job where name = ? and data->>'afterSaleId' = ?`, [
        REVIEW_JOB,
        id,
      ]),
    ).toEqual([{ n: 1 }]);
    const reused = await w.request(
      buyer.token,
      o.orderId,
      'REFUND_ONLY',
      [{ orderLineId: o.lines[0].id, quantity: 2 }],
      'same-key',
    );
    expect(reused.data.afterSaleRequest).toMatchObject({
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
      field: 'idempotencyKey',
    });
    // Another buyer may use the same key for their own request.
    const other = await w.richCustomer('50.00');
    const theirs = await w.paidOrder(other, [{ variantId: v, quantity: 1 }]);
    const r = await w.request(
      other.token,
      theirs.orderId,
      'REFUND_ONLY',
      [{ orderLineId: theirs.lines[0].id, quantity: 1 }],
      'same-key',
    );
    expect(r.data.afterSaleRequest.__typename).toBe('AfterSale');
  });
});

describe('who sees and who decides', () => {
  test('strangers read nothing and change nothing; the buyer cannot review; another merchant gets NOT_FOUND', async () => {
    const v = await product(merchant, '11.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 1 }]);
    const stranger = await signUpCustomer(w.t.gql);
    const otherShop = await createMerchant(w.t.gql, w.admin);

    expect(
      codeOf(
        await w.request(stranger.token, o.orderId, 'REFUND_ONLY', [
          { orderLineId: o.lines[0].id, quantity: 1 },
        ]),
      ),
    ).toBe('NOT_FOUND');
    expect(
      codeOf(
        await w.request(merchant.token, o.orderId, 'REFUND_ONLY', [
          { orderLineId: o.lines[0].id, quantity: 1 },
        ]),
      ),
    ).toBe('FORBIDDEN');
    expect(
      codeOf(
        await w.gql(REQUEST, {
          i: {
            orderId: o.orderId,
            type: 'REFUND_ONLY',
            lines: [{ orderLineId: o.lines[0].id, quantity: 1 }],
            reason: 'x',
            idempotencyKey: 'k',
          },
        }),
      ),
    ).toBe('UNAUTHENTICATED');
    const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);

    expect((await w.gql(AFTER_SALE, { id: a.id }, stranger.token)).data.afterSale).toBeNull();
    expect((await w.gql(AFTER_SALE, { id: a.id }, otherShop.token)).data.afterSale).toBeNull();
    expect((await w.gql(AFTER_SALE, { id: a.id })).data.afterSale).toBeNull();
    expect((await w.gql(AFTER_SALE, { id: 'nope' }, buyer.token)).data.afterSale).toBeNull();
    expect((await w.gql(AFTER_SALE, { id: a.id }, merchant.token)).data.afterSale).toMatchObject({
      id: a.id,
      status: 'REQUESTED',
    });
    expect((await w.gql(AFTER_SALE, { id: a.id }, w.admin)).data.afterSale).toMatchObject({ id: a.id });

    expect(codeOf(await w.review(otherShop.token, a.id, true))).toBe('NOT_FOUND');
    expect(codeOf(await w.gql(RECEIVE, { id: a.id }, otherShop.token))).toBe('NOT_FOUND');
    expect(codeOf(await w.review(buyer.token, a.id, true))).toBe('FORBIDDEN');
    expect(codeOf(await w.review(stranger.token, a.id, true))).toBe('FORBIDDEN');
    expect(codeOf(await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: '1' }, stranger.token))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(await w.review(merchant.token, '123456789', true))).toBe('NOT_FOUND');
    expect((await w.gql(AFTER_SALE, { id: a.id }, buyer.token)).data.afterSale.status).toBe('REQUESTED');
    // An admin may decide.
    expect((await w.review(w.admin, a.id, true)).data.afterSaleReview).toMatchObject({ status: 'REFUNDED' });
  });
});

describe('review deadline', () => {
  test('racing the deadline approval: the merchant’s rejection or the approval wins, never both', async () => {
    const v = await product(merchant, '2.00', 1000);
    for (const round of range(8)) {
      const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 1 }]);
      const a = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
        { orderLineId: o.lines[0].id, quantity: 1 },
      ]);
      await w.sql(`update after_sale set review_deadline = now() - interval '1 second' where id = ?`, [a.id]);
      const [reject, ...auto] = await Promise.all([
        w.review(merchant.token, a.id, false, { note: `round ${round}` }),
        w.t.app.services.afterSales.autoApprove(w.em(), a.id),
        w.t.app.services.afterSales.autoApprove(w.em(), a.id),
        w.t.app.services.afterSales.sweep(w.em()).then((s) => s.approved > 0),
      ]);
      expectClean([reject]);
      const final = (await w.gql(AFTER_SALE, { id: a.id }, buyer.token)).data.afterSale;
      const refunds = (
        await w.sql('select count(*)::int as n from refund where order_id = ?', [o.orderId])
      )[0].n;
      const decisions = (
        await w.sql(`select count(*)::int as n from order_event where after_sale_id = ?`, [a.id])
      )[0].n;
      if (reject.data.afterSaleReview.status === 'REJECTED') {
        expect(final.status).toBe('REJECTED');
        expect(auto.filter(Boolean)).toHaveLength(0);
        expect(refunds).toBe(0);
        expect(decisions).toBe(2); // requested, rejected
      } else {
        expect(reject.data.afterSaleReview).toMatchObject({ errorCode: 'AFTER_SALE_NOT_ALLOWED' });
        expect(final.status).toBe('REFUNDED');
        // the job, a second job or the sweep (or the background cron) approved it: once
        expect(auto.filter(Boolean).length).toBeLessThanOrEqual(1);
        expect(refunds).toBe(1);
        expect(decisions).toBe(3); // requested, approved, refunded
      }
    }
    await w.expectInvariants();
  });

  test('the sweep approves what is overdue and leaves the rest; without a known address a return is approved without one', async () => {
    const m = await createMerchant(w.t.gql, w.admin);
    const v = await product(m, '4.00');
    const o = await w.paidOrder(buyer, [{ variantId: v, quantity: 3 }]);
    await w.deliver(m, buyer, o.orderId);
    const due = await w.requested(buyer.token, o.orderId, 'RETURN_AND_REFUND', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    const notYet = await w.requested(buyer.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    await w.sql(`update after_sale set review_deadline = now() where id = ?`, [due.id]);
    await w.t.app.services.afterSales.sweep(w.em());
    expect((await w.gql(AFTER_SALE, { id: due.id }, buyer.token)).data.afterSale).toMatchObject({
      status: 'APPROVED',
      returnAddress: null,
    });
    expect((await w.gql(AFTER_SALE, { id: notYet.id }, buyer.token)).data.afterSale.status).toBe('REQUESTED');
    expect(await w.t.app.services.afterSales.autoApprove(w.em(), notYet.id)).toBe(false);
    expect((await w.gql(AFTER_SALE, { id: notYet.id }, buyer.token)).data.afterSale.status).toBe('REQUESTED');
  });
});

describe('with a review deadline of 2 seconds', () => {
  const fast = world({ AFTER_SALE_REVIEW_SECONDS: '2' });
  beforeAll(() => fast.start(), 120_000);
  afterAll(() => fast.t?.stop());

  test('an unreviewed request is approved (and refunded) by its job when the deadline passes', async () => {
    const m = await createMerchant(fast.t.gql, fast.admin);
    const shopper = await fast.richCustomer('100.00');
    const v = (await createProduct(fast.t.gql, m.token, { variants: [{ price: '15.00', onHand: 5 }] }))
      .variantIds[0];
    const o = await fast.paidOrder(shopper, [{ variantId: v, quantity: 2 }]);
    const a = await fast.requested(shopper.token, o.orderId, 'REFUND_ONLY', [
      { orderLineId: o.lines[0].id, quantity: 1 },
    ]);
    expect(new Date(a.reviewDeadline).getTime() - new Date(a.createdAt).getTime()).toBeGreaterThanOrEqual(
      1900,
    );
    const before = await fast.balance(shopper);
    const done = await eventually(async () => {
      const r = (await fast.gql(AFTER_SALE, { id: a.id }, shopper.token)).data.afterSale;
      return r.status === 'REFUNDED' ? r : null;
    }, 20_000);
    expect(done).toMatchObject({ refundAmount: { amount: '15.00' }, reviewDeadline: null, reviewNote: null });
    expect(await fast.balance(shopper)).toBe(before + 1500);
    const [row] = await fast.sql('select reviewed_by, reviewed_at from after_sale where id = ?', [a.id]);
    expect(row.reviewed_by).toBeNull();
    expect(row.reviewed_at).not.toBeNull();
    // The merchant's late approval is the same decision: nothing changes.
    expect((await fast.review(m.token, a.id, true)).data.afterSaleReview).toMatchObject({
      status: 'REFUNDED',
    });
    expect(await fast.sql('select count(*)::int as n from refund where order_id = ?', [o.orderId])).toEqual([
      { n: 1 },
    ]);
    await fast.expectInvariants();
  });
});

describe('reading', () => {
  test('orders with their after-sales, lines, parcels and events cost the same statements however many there are', async () => {
    const shopper = await w.richCustomer('200.00');
    const v = await product(merchant, '5.00');
    const LIST = `{ orders(first: 20) { edges { node { id afterSales { id status lines { orderLineId quantity } returnShipment { id } exchangeShipment { id } }
      history { type afterSale { id lines { quantity } } } } } } }`;
    const addOne = async () => {
      const o = await w.paidOrder(shopper, [{ variantId: v, quantity: 2 }]);
      await w.deliver(merchant, shopper, o.orderId);
      const a = await w.requested(shopper.token, o.orderId, 'RETURN_AND_REFUND', [
        { orderLineId: o.lines[0].id, quantity: 1 },
      ]);
      await w.review(merchant.token, a.id, true, { addr: RETURN_ADDRESS });
      await w.gql(RETURN_SHIP, { id: a.id, c: 'UPS', n: `RET${a.id}` }, shopper.token);
      await w.requested(shopper.token, o.orderId, 'REFUND_ONLY', [
        { orderLineId: o.lines[0].id, quantity: 1 },
      ]);
    };
    await addOne();
    const one = await w.gql(LIST, {}, shopper.token);
    expect(one.errors).toBeUndefined();
    expect(one.data.orders.edges[0].node.afterSales).toHaveLength(2);
    await addOne();
    await addOne();
    const three = await w.gql(LIST, {}, shopper.token);
    expect(three.errors).toBeUndefined();
    expect(three.data.orders.edges.map((e: any) => e.node.afterSales.length)).toEqual([2, 2, 2]);
    expect(
      three.data.orders.edges[0].node.history.filter((e: any) => e.afterSale).length,
    ).toBeGreaterThanOrEqual(4);
    expect(three.extensions?.sqlStatements).toBe(one.extensions?.sqlStatements);
    expect(one.extensions?.sqlStatements).toBeLessThanOrEqual(9);
  });
});
