import { randomBytes } from 'node:crypto';
import { decodeOrderId } from '../../src/modules/order/order-id';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { ADDRESS, createCart } from '../factories/shop';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/*
 * Reading orders: who sees what, filters, keyset pagination, history, id layout, the cost of an
 * order page, product snapshots and "also bought".
 */

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp();
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());

const uid = () => randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const cursorOf = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');

interface Checkout {
  id: string;
  total: { amount: string };
  orders: { id: string; merchant: { id: string }; createdAt: string }[];
}

/** Checks a cart out (anonymous cart, then the buyer pays for it) and returns the checkout. */
async function buy(token: string, lines: { variantId: string; quantity: number }[]): Promise<Checkout> {
  const cartId = await createCart(t.gql, lines);
  const r = await t.gql(
    `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename
      ... on Checkout { id total { amount } orders { id createdAt merchant { id } } } ... on ErrorResult { errorCode message } } }`,
    { i: { cartId, idempotencyKey: `k-${uid()}`, shippingAddress: ADDRESS } },
    token,
  );
  if (r.data?.checkoutCreate?.__typename !== 'Checkout')
    throw new Error(`checkout failed: ${JSON.stringify(r)}`);
  return r.data.checkoutCreate;
}

async function cancel(token: string, orderId: string) {
  const r = await t.gql(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename ... on Order { status } } }`,
    { id: orderId },
    token,
  );
  expect(r.data.orderCancel).toEqual({ __typename: 'Order', status: 'CANCELLED' });
}

const ORDER = `query($id: ID!) { order(id: $id) { id status merchant { id } buyer { id } } }`;
const orderAs = async (id: string, token?: string) => {
  const r = await t.gql(ORDER, { id }, token);
  expect(r.errors).toBeUndefined();
  return r.data.order;
};

const LIST = `query($f: OrderFilter, $n: Int, $a: String) { orders(filter: $f, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status createdAt } } } }`;
async function list(
  token: string,
  vars: { f?: Record<string, unknown>; n?: number; a?: string | null } = {},
) {
  const r = await t.gql(LIST, { n: 100, ...vars }, token);
  expect(r.errors).toBeUndefined();
  return r.data.orders as {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { cursor: string; node: { id: string; status: string; createdAt: string } }[];
  };
}
const idsOf = (page: { edges: { node: { id: string } }[] }) => page.edges.map((e) => e.node.id);
/** Newest first is id order, descending (ids are time-ordered). */
const desc = (ids: string[]) =>
  [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? 1 : BigInt(a) > BigInt(b) ? -1 : 0));

describe('reading orders', () => {
  let m1: { id: string; token: string };
  let m2: { id: string; token: string };
  let c1: { id: string; token: string };
  let c2: { id: string; token: string };
  const c1Checkouts: Checkout[] = [];
  let c2Checkout: Checkout;
  let c1Orders: string[];
  let cancelled: string;
  const m1Order = (c: Checkout) => c.orders.find((o) => o.merchant.id === m1.id)!.id;
  const m2Order = (c: Checkout) => c.orders.find((o) => o.merchant.id === m2.id)!.id;

  beforeAll(async () => {
    m1 = await createMerchant(t.gql, admin);
    m2 = await createMerchant(t.gql, admin);
    const p1 = await createProduct(t.gql, m1.token, { variants: [{ price: '10.00', onHand: 100 }] });
    const p2 = await createProduct(t.gql, m2.token, { variants: [{ price: '20.00', onHand: 100 }] });
    c1 = await signUpCustomer(t.gql, 'First Buyer');
    c2 = await signUpCustomer(t.gql, 'Second Buyer');
    for (let i = 0; i < 3; i++) {
      c1Checkouts.push(
        await buy(c1.token, [
          { variantId: p1.variantIds[0], quantity: 1 },
          { variantId: p2.variantIds[0], quantity: 1 },
        ]),
      );
      await sleep(5); // distinct creation milliseconds for the date filters
    }
    c2Checkout = await buy(c2.token, [{ variantId: p1.variantIds[0], quantity: 2 }]);
    c1Orders = c1Checkouts.flatMap((c) => c.orders.map((o) => o.id));
    cancelled = m1Order(c1Checkouts[0]);
    await cancel(c1.token, cancelled);
  });

  test('setup: three checkouts of two orders, one of one', () => {
    expect(c1Checkouts.map((c) => c.orders.length)).toEqual([2, 2, 2]);
    expect(c1Checkouts.map((c) => c.total.amount)).toEqual(['39.98', '39.98', '39.98']);
    expect(c2Checkout.orders).toHaveLength(1);
  });

  test('order(id): its buyer, its merchant and admins see it; anyone else gets null', async () => {
    const a = m1Order(c1Checkouts[1]);
    const b = m2Order(c1Checkouts[1]);
    expect(await orderAs(a, c1.token)).toEqual({
      id: a,
      status: 'PENDING_PAYMENT',
      merchant: { id: m1.id },
      buyer: { id: c1.id },
    });
    expect(await orderAs(b, c1.token)).toEqual({
      id: b,
      status: 'PENDING_PAYMENT',
      merchant: { id: m2.id },
      buyer: { id: c1.id },
    });
    expect((await orderAs(a, m1.token))?.id).toBe(a);
    expect((await orderAs(b, m2.token))?.id).toBe(b);
    expect((await orderAs(a, admin))?.id).toBe(a);
    expect((await orderAs(b, admin))?.id).toBe(b);
    expect((await orderAs(cancelled, c1.token))?.status).toBe('CANCELLED');

    expect(await orderAs(a, c2.token)).toBeNull();
    expect(await orderAs(a, m2.token)).toBeNull();
    expect(await orderAs(b, m1.token)).toBeNull();
    expect(await orderAs(a)).toBeNull();
    expect(await orderAs(m1Order(c2Checkout), c1.token)).toBeNull();
    expect((await orderAs(m1Order(c2Checkout), c2.token))?.id).toBe(m1Order(c2Checkout));
  });

  test.each([
    ['abc'],
    [''],
    ['-1'],
    ['1.5'],
    ['0x10'],
    [' 1'],
    ['1e3'],
    ['99999999999999999999'],
    ['9223372036854775808'],
    ['1'],
    ['9223372036854775807'],
  ])('order(id: %j) is null, not an error', async (id) => {
    expect(await orderAs(id, admin)).toBeNull();
    expect(await orderAs(id, c1.token)).toBeNull();
  });

  test('checkout(id): only its buyer', async () => {
    const c = c1Checkouts[2];
    const q = `query($id: ID!) { checkout(id: $id) { id total { amount } orders { id } } }`;
    const own = await t.gql(q, { id: c.id }, c1.token);
    expect(own.errors).toBeUndefined();
    expect(own.data.checkout).toEqual({
      id: c.id,
      total: { amount: '39.98' },
      orders: c.orders.map((o) => ({ id: o.id })).sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1)),
    });
    for (const token of [c2.token, m1.token, m2.token, undefined]) {
      const r = await t.gql(q, { id: c.id }, token);
      expect(r.errors).toBeUndefined();
      expect(r.data.checkout).toBeNull();
    }
    // an order id is not a checkout id
    expect((await t.gql(q, { id: c.orders[0].id }, c1.token)).data.checkout).toBeNull();
    expect((await t.gql(q, { id: 'nope' }, c1.token)).data.checkout).toBeNull();
  });

  test("orders(): buyers see their own, merchants their shop's, admins all", async () => {
    const own = await list(c1.token);
    expect(own.totalCount).toBe(6);
    expect(idsOf(own)).toEqual(desc(c1Orders));
    expect(own.pageInfo.hasNextPage).toBe(false);

    expect(idsOf(await list(c2.token))).toEqual([m1Order(c2Checkout)]);

    const shop1 = await list(m1.token);
    expect(shop1.totalCount).toBe(4);
    expect(idsOf(shop1)).toEqual(desc([...c1Checkouts.map(m1Order), m1Order(c2Checkout)]));
    const shop2 = await list(m2.token);
    expect(idsOf(shop2)).toEqual(desc(c1Checkouts.map(m2Order)));

    const all = await list(admin);
    const everyOrder = (await sql('select id from shop_order')).map((r) => String(r.id));
    expect(all.totalCount).toBe(everyOrder.length);
    expect(idsOf(all)).toEqual(desc(everyOrder));
    expect(idsOf(all)).toEqual(expect.arrayContaining([...c1Orders, m1Order(c2Checkout)]));

    expect(codeOf(await t.gql(LIST, { n: 10 }))).toBe('UNAUTHENTICATED');
  });

  test('orders(filter: status)', async () => {
    const onlyCancelled = await list(c1.token, { f: { status: ['CANCELLED'] } });
    expect(onlyCancelled.totalCount).toBe(1);
    expect(idsOf(onlyCancelled)).toEqual([cancelled]);
    const pending = await list(c1.token, { f: { status: ['PENDING_PAYMENT'] } });
    expect(pending.totalCount).toBe(5);
    expect(idsOf(pending)).toEqual(desc(c1Orders.filter((id) => id !== cancelled)));
    expect((await list(c1.token, { f: { status: ['PENDING_PAYMENT', 'CANCELLED'] } })).totalCount).toBe(6);
    expect((await list(c1.token, { f: { status: ['PAID'] } })).totalCount).toBe(0);
    expect(idsOf(await list(m1.token, { f: { status: ['CANCELLED'] } }))).toEqual([cancelled]);
    expect(idsOf(await list(m2.token, { f: { status: ['CANCELLED'] } }))).toEqual([]);
    expect(codeOf(await t.gql(LIST, { f: { status: ['LOST'] } }, c1.token))).toBe('BAD_USER_INPUT');
  });

  test('orders(filter: createdAfter / createdBefore): from inclusive, until exclusive', async () => {
    const own = await list(c1.token);
    const createdAt = (id: string) => own.edges.find((e) => e.node.id === id)!.node.createdAt;
    // the orders of one checkout share their creation time
    for (const c of c1Checkouts) expect(createdAt(c.orders[0].id)).toBe(createdAt(c.orders[1].id));
    const [t1, t2, t3] = c1Checkouts.map((c) => createdAt(c.orders[0].id));
    expect(t1 < t2 && t2 < t3).toBe(true);
    const ordersOf = (...cs: Checkout[]) => desc(cs.flatMap((c) => c.orders.map((o) => o.id)));

    expect(idsOf(await list(c1.token, { f: { createdAfter: t2 } }))).toEqual(
      ordersOf(c1Checkouts[1], c1Checkouts[2]),
    );
    expect(idsOf(await list(c1.token, { f: { createdBefore: t2 } }))).toEqual(ordersOf(c1Checkouts[0]));
    const middle = await list(c1.token, { f: { createdAfter: t2, createdBefore: t3 } });
    expect(middle.totalCount).toBe(2);
    expect(idsOf(middle)).toEqual(ordersOf(c1Checkouts[1]));
    expect(
      idsOf(
        await list(c1.token, { f: { createdAfter: t1, createdBefore: t3, status: ['PENDING_PAYMENT'] } }),
      ),
    ).toEqual(desc([m2Order(c1Checkouts[0]), ...c1Checkouts[1].orders.map((o) => o.id)]));
    expect(
      (await list(c1.token, { f: { createdAfter: new Date(Date.now() + 60_000).toISOString() } })).totalCount,
    ).toBe(0);
    expect(codeOf(await t.gql(LIST, { f: { createdAfter: 'yesterday' } }, c1.token))).toBe('BAD_USER_INPUT');
  });

  test('history: STATUS_CHANGED events, oldest first', async () => {
    const q = `query($id: ID!) { order(id: $id) { version history { id orderId type status occurredAt } } }`;
    const r = await t.gql(q, { id: cancelled }, c1.token);
    expect(r.errors).toBeUndefined();
    const h = r.data.order.history;
    expect(r.data.order.version).toBe(2);
    expect(h.map((e: any) => [e.type, e.status, e.orderId])).toEqual([
      ['STATUS_CHANGED', 'PENDING_PAYMENT', cancelled],
      ['STATUS_CHANGED', 'CANCELLED', cancelled],
    ]);
    expect(BigInt(h[0].id) < BigInt(h[1].id)).toBe(true);
    expect(Date.parse(h[0].occurredAt)).toBeLessThanOrEqual(Date.parse(h[1].occurredAt));

    const open = await t.gql(q, { id: m2Order(c1Checkouts[0]) }, m2.token);
    expect(open.data.order.history.map((e: any) => e.status)).toEqual(['PENDING_PAYMENT']);
  });

  test("order ids carry the buyer's shard and increase in creation order", async () => {
    const seq: string[] = [];
    for (const c of c1Checkouts) {
      // the checkout id is made first, then its orders'
      seq.push(c.id, ...[...c.orders.map((o) => o.id)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
    }
    for (let i = 1; i < seq.length; i++) expect(BigInt(seq[i]) > BigInt(seq[i - 1])).toBe(true);
    for (const id of seq) expect(decodeOrderId(id).shard).toBe(Number(BigInt(c1.id) % 1024n));
    for (const c of [c2Checkout]) {
      for (const id of [c.id, ...c.orders.map((o) => o.id)])
        expect(decodeOrderId(id).shard).toBe(Number(BigInt(c2.id) % 1024n));
    }
    // the time bits are the creation time (the id is made a moment after the transaction began)
    for (const c of c1Checkouts) {
      for (const o of c.orders) {
        const lag = decodeOrderId(o.id).createdAt.getTime() - Date.parse(o.createdAt);
        expect(lag).toBeGreaterThanOrEqual(0);
        expect(lag).toBeLessThan(5000);
      }
    }
  });

  test('page sizes: first over 100 or negative is BAD_USER_INPUT; 100 is fine', async () => {
    expect(codeOf(await t.gql(LIST, { n: 101 }, c1.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(LIST, { n: -1 }, c1.token))).toBe('BAD_USER_INPUT');
    expect((await list(c1.token, { n: 100 })).totalCount).toBe(6);
    const none = await list(c1.token, { n: 0 });
    expect(none.edges).toEqual([]);
    expect(none.pageInfo.hasNextPage).toBe(true);
  });

  test.each([
    ['not base64url', 'not a cursor!'],
    ['not JSON', 'abc'],
    ['not an array', cursorOf({ id: '1' })],
    ['a number, not a string', cursorOf([1])],
    ['two values', cursorOf(['1', '2'])],
    ['not a number', cursorOf(['x'])],
    ['too long', 'A'.repeat(201)],
  ])('a malformed after (%s) is BAD_USER_INPUT', async (_, after) => {
    const r = await t.gql(LIST, { n: 3, a: after }, c1.token);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
  });
});

describe('an order page costs a fixed number of statements', () => {
  const MERCHANTS = 5;
  const CHECKOUTS = 10;
  let buyer: { id: string; token: string };
  let merchants: { id: string; token: string }[];

  const DETAIL = `query($n: Int!) { orders(first: $n) { edges { node {
    id status total { amount } buyer { name } merchant { name }
    lines { sku quantity lineTotal { amount } snapshot { digest } }
    history { status } } } } }`;

  beforeAll(async () => {
    merchants = [];
    const variants: string[] = [];
    for (let m = 0; m < MERCHANTS; m++) {
      const merchant = await createMerchant(t.gql, admin, `Shop ${m} ${uid()}`);
      merchants.push(merchant);
      const p = await createProduct(t.gql, merchant.token, {
        variants: Array.from({ length: 10 }, (_, v) => ({
          title: `V${v}`,
          price: `${v + 1}.00`,
          onHand: 100,
        })),
      });
      variants.push(...p.variantIds);
    }
    buyer = await signUpCustomer(t.gql, 'Bulk Buyer');
    // a 50-line cart over five merchants makes five orders of ten lines
    for (let i = 0; i < CHECKOUTS; i++)
      await buy(
        buyer.token,
        variants.map((variantId) => ({ variantId, quantity: 1 })),
      );
  });

  test('50 orders of 10 lines cost what 5 orders cost', async () => {
    const small = await t.gql(DETAIL, { n: 5 }, buyer.token);
    const large = await t.gql(DETAIL, { n: 50 }, buyer.token);
    expect(small.errors).toBeUndefined();
    expect(large.errors).toBeUndefined();
    expect(small.data.orders.edges).toHaveLength(5);
    const orders = large.data.orders.edges.map((e: any) => e.node);
    expect(orders).toHaveLength(50);
    for (const o of orders) {
      expect(o.lines).toHaveLength(10);
      expect(o.buyer.name).toBe('Bulk Buyer');
      expect(o.history).toEqual([{ status: 'PENDING_PAYMENT' }]);
      // 1.00 + ... + 10.00 = 55.00: free shipping
      expect(o.total.amount).toBe('55.00');
    }
    expect(new Set(orders.map((o: any) => o.merchant.name)).size).toBe(MERCHANTS);
    /*
     * 7 statements, whatever the page size:
     *   1. select the page of shop_order rows (keyset, limit first + 1)
     *   2. count(*) of shop_order for totalCount (run alongside 1, though not selected here)
     *   3. order_line of every order on the page (linesByOrder)
     *   4. app_user names of the buyers (customer loader)
     *   5. merchant rows (catalog merchant loader)
     *   6. order_event of every order (eventsByOrder)
     *   7. product_snapshot of every line's digest (snapshot loader, after the lines are in)
     */
    expect(small.extensions?.sqlStatements).toBe(7);
    expect(large.extensions?.sqlStatements).toBe(7);
  });

  test('a merchant sees only its own ten orders', async () => {
    const page = await list(merchants[0].token, { n: 50 });
    expect(page.totalCount).toBe(CHECKOUTS);
  });

  test('every order line gets its snapshot within a few seconds', async () => {
    const q = `{ orders(first: 50) { edges { node { lines { sku snapshot { digest title data } } } } } }`;
    let lines: any[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await t.gql(q, {}, buyer.token);
      expect(r.errors).toBeUndefined();
      lines = r.data.orders.edges.flatMap((e: any) => e.node.lines);
      if (lines.every((l) => l.snapshot !== null)) break;
      await sleep(100);
    }
    expect(lines).toHaveLength(500);
    for (const l of lines) {
      expect(l.snapshot).not.toBeNull();
      expect(l.snapshot.data.sku).toBe(l.sku);
      expect(l.snapshot.digest).toMatch(/^[0-9a-f]{64}$/);
    }
    // 50 distinct variants sold ten times each: 50 snapshots
    expect(new Set(lines.map((l) => l.snapshot.digest)).size).toBe(50);
  });
});

/** Polls until every line of these orders has its snapshot; returns the lines by order. */
async function snapshotsOf(token: string, orderIds: string[]) {
  const q = `query($id: ID!) { order(id: $id) { lines { sku unitPrice { amount } snapshot { digest title data } } } }`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const out = [];
    for (const id of orderIds) out.push((await t.gql(q, { id }, token)).data.order.lines);
    if (out.every((ls: any[]) => ls.every((l) => l.snapshot !== null)) || Date.now() > deadline) return out;
    await sleep(200);
  }
}

/**
 * Waits until no snapshot job is left to run, so counting rows counts every job's work. Generous:
 * the worker takes one job per poll interval (see the report on src/shared/jobs.ts), so a burst of
 * 20 checkouts takes about 20 s to drain.
 */
async function snapshotJobsDone() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [{ n }] = await sql(
      `select count(*)::int as n from pgboss.job where name = 'snapshot.write' and state in ('created', 'retry', 'active')`,
    );
    if (n === 0 || Date.now() > deadline) return n as number;
    await sleep(200);
  }
}

test('snapshots: one row per distinct content; a price change makes a second one and old orders keep the first', async () => {
  const m = await createMerchant(t.gql, admin);
  const title = `Snapshot Lamp ${uid()}`;
  const p = await createProduct(t.gql, m.token, {
    title,
    variants: [{ title: 'Brass', price: '10.00', onHand: 100 }],
  });
  const variantId = p.variantIds[0];
  const buyer = await signUpCustomer(t.gql);
  const before: string[] = [];
  for (let i = 0; i < 20; i++)
    before.push((await buy(buyer.token, [{ variantId, quantity: 1 }])).orders[0].id);

  const old = await snapshotsOf(buyer.token, before);
  expect(await snapshotJobsDone()).toBe(0);
  const digests = new Set(old.map((ls: any[]) => ls[0].snapshot?.digest));
  expect(digests.size).toBe(1);
  const first = old[0][0].snapshot;
  expect(first).toMatchObject({
    title,
    data: {
      productId: p.id,
      variantId,
      merchantId: m.id,
      title,
      variantTitle: 'Brass',
      unitPrice: 1000,
      currency: 'USD',
    },
  });
  const rows = () =>
    sql(`select digest, data from product_snapshot where data->>'variantId' = ? order by created_at`, [
      variantId,
    ]);
  expect((await rows()).map((r) => r.digest)).toEqual([first.digest]);

  await sql('update variant set price = 1250 where id = ?', [variantId]);
  const after = (await buy(buyer.token, [{ variantId, quantity: 1 }])).orders[0].id;
  const [fresh] = await snapshotsOf(buyer.token, [after]);
  expect(fresh[0].unitPrice.amount).toBe('12.50');
  expect(fresh[0].snapshot).not.toBeNull();
  expect(fresh[0].snapshot.digest).not.toBe(first.digest);
  expect(fresh[0].snapshot.data.unitPrice).toBe(1250);
  expect(await snapshotJobsDone()).toBe(0);
  expect((await rows()).map((r) => r.digest).sort()).toEqual([first.digest, fresh[0].snapshot.digest].sort());

  // the old orders still point at what they sold
  const reread = await snapshotsOf(buyer.token, before);
  for (const ls of reread) {
    expect(ls[0].unitPrice.amount).toBe('10.00');
    expect(ls[0].snapshot.digest).toBe(first.digest);
    expect(ls[0].snapshot.data.unitPrice).toBe(1000);
  }
});

test('alsoBought: products in the same live orders, most often first; cancelled orders do not count', async () => {
  const m = await createMerchant(t.gql, admin);
  const mk = async (name: string) => {
    const p = await createProduct(t.gql, m.token, {
      title: `${name} ${uid()}`,
      variants: [{ price: '5.00', onHand: 100 }],
    });
    return { id: p.id, variantId: p.variantIds[0] };
  };
  // C is made before B: ordering by id would put C first
  const a = await mk('A');
  const c = await mk('C');
  const b = await mk('B');
  const e = await mk('E');
  const lone = await mk('Lone');
  const buyer = await signUpCustomer(t.gql);
  const line = (x: { variantId: string }) => ({ variantId: x.variantId, quantity: 1 });

  await buy(buyer.token, [line(a), line(b)]);
  await buy(buyer.token, [line(b), line(a)]);
  await buy(buyer.token, [line(a), line(c)]);
  // cancelled: would make C (3) beat B (2), and bring E in
  for (const x of [c, c, e]) {
    const k = await buy(buyer.token, [line(a), line(x)]);
    await cancel(buyer.token, k.orders[0].id);
  }
  await buy(buyer.token, [line(lone)]);

  const q = `query($id: ID!) { product(id: $id) { alsoBought { id } } }`;
  const also = async (id: string, first?: number) => {
    const r = await t.gql(first === undefined ? q : q.replace('alsoBought', `alsoBought(first: ${first})`), {
      id,
    });
    expect(r.errors).toBeUndefined();
    return r.data.product.alsoBought.map((x: { id: string }) => x.id);
  };
  expect(await also(a.id)).toEqual([b.id, c.id]);
  expect(await also(a.id, 1)).toEqual([b.id]);
  expect(await also(b.id)).toEqual([a.id]);
  expect(await also(c.id)).toEqual([a.id]);
  expect(await also(e.id)).toEqual([]);
  expect(await also(lone.id)).toEqual([]);

  // several products in one request: batched, each with its own list
  const many = await t.gql(
    `query($a: ID!, $b: ID!, $e: ID!) { a: product(id: $a) { alsoBought { id } } b: product(id: $b) { alsoBought { id } } e: product(id: $e) { alsoBought { id } } }`,
    { a: a.id, b: b.id, e: e.id },
  );
  expect(many.data).toEqual({
    a: { alsoBought: [{ id: b.id }, { id: c.id }] },
    b: { alsoBought: [{ id: a.id }] },
    e: { alsoBought: [] },
  });
});

test('keyset pagination with first=3 walks every order newest first exactly once', async () => {
  const expected = (await sql('select id from shop_order order by id desc')).map((r) => String(r.id));
  expect(expected.length).toBeGreaterThan(80);
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  for (;;) {
    const page = await list(admin, { n: 3, a: after });
    pages++;
    expect(page.totalCount).toBe(expected.length);
    expect(page.edges.length).toBeLessThanOrEqual(3);
    seen.push(...idsOf(page));
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    if (!page.pageInfo.hasNextPage) break;
    expect(page.edges).toHaveLength(3);
    after = page.pageInfo.endCursor;
    if (pages > 1000) throw new Error('pagination does not end');
  }
  expect(seen).toEqual(expected);
  expect(pages).toBe(Math.ceil(expected.length / 3));
});
