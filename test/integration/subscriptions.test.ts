import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { inTransaction } from '../../src/db/transaction';
import { recordOrderEvent } from '../../src/modules/events/order-events';
import { OutboxRelay } from '../../src/modules/events/relay';
import { TokenService } from '../../src/modules/identity/token';
import { OrderEventKind } from '../../src/modules/order/order.types';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { subscribe, wsClient } from '../support/ws';
import pino from 'pino';

/*
 * Live order events over graphql-ws: who may follow what, replay then live with no gap and no
 * duplicate at the seam (under concurrent writers), shop streams, the relay's crash recovery.
 */

let t: TestApp;
let admin: string;
let merchant: { id: string; token: string };
let variantId: string;
const clients: { dispose(): void | Promise<void> }[] = [];

beforeAll(async () => {
  t = await startTestApp({ EVENT_RELAY_POLL_MS: '200' });
  admin = await adminToken(t.gql);
  merchant = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, merchant.token, { variants: [{ onHand: 10_000, price: '5.00' }] });
  variantId = p.variantIds[0];
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(() => t?.stop());

const uid = () => randomBytes(4).toString('hex');
const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
const ws = (token?: string, onClose?: (code: number) => void) => {
  const c = wsClient(t.url, token, onClose);
  clients.push(c);
  return c;
};

async function newOrder(buyer: string): Promise<string> {
  const cartId = await createCart(t.gql, [{ variantId, quantity: 1 }]);
  const r = await checkout(t.gql, buyer, cartId, `k-${uid()}`);
  return r.data.checkoutCreate.orders[0].id;
}

/** A change that is not a status change: what a carrier scan writes. */
const touch = (orderId: string) =>
  inTransaction(t.app.orm.em as unknown as EntityManager, (tx) =>
    recordOrderEvent(tx, { orderId, type: OrderEventKind.SHIPMENT_UPDATED }),
  );

const ORDER_EVENTS = `subscription($o: ID!, $a: ID) { orderEvents(orderId: $o, after: $a) { id orderId type status occurredAt } }`;
const SHOP_EVENTS = `subscription($a: ID) { merchantOrderEvents(after: $a) { id orderId type status } }`;
const pickOrder = (d: any) => d.orderEvents;
const pickShop = (d: any) => d.merchantOrderEvents;
const eventsInDb = async (orderId: string) =>
  (await sql('select id::text, seq from order_event where order_id = ? order by seq', [orderId])) as {
    id: string;
    seq: number;
  }[];

test('the buyer sees an order change live, with its type, status and time', async () => {
  const buyer = await signUpCustomer(t.gql);
  const orderId = await newOrder(buyer.token);
  const sub = subscribe(ws(buyer.token), ORDER_EVENTS, { o: orderId }, pickOrder);
  await new Promise((r) => setTimeout(r, 200)); // subscribed
  const r = await t.gql(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename } }`,
    { id: orderId },
    buyer.token,
  );
  expect(r.data.orderCancel.__typename).toBe('Order');
  const [e] = await sub.waitFor(1);
  const db = await eventsInDb(orderId);
  expect(e).toMatchObject({ id: db[1].id, orderId, type: 'STATUS_CHANGED', status: 'CANCELLED' });
  expect(Date.parse(e.occurredAt)).toBeGreaterThan(Date.now() - 60_000);
});

test('credentials: a bad token is refused with 4403, none with 4401, and strangers get an error and no event', async () => {
  const buyer = await signUpCustomer(t.gql);
  const orderId = await newOrder(buyer.token);

  let closed: number | undefined;
  const bad = subscribe(
    ws('not-a-token', (c) => (closed = c)),
    ORDER_EVENTS,
    { o: orderId },
    pickOrder,
  );
  await bad.ended;
  expect(closed).toBe(4403);

  let closedAnon: number | undefined;
  const anon = subscribe(
    ws(undefined, (c) => (closedAnon = c)),
    ORDER_EVENTS,
    { o: orderId },
    pickOrder,
  );
  await anon.ended;
  expect(closedAnon).toBe(4401);

  const stranger = await signUpCustomer(t.gql);
  const other = await createMerchant(t.gql, admin);
  for (const token of [stranger.token, other.token]) {
    const s = subscribe(ws(token), ORDER_EVENTS, { o: orderId }, pickOrder);
    await s.ended;
    expect(JSON.stringify(s.errors)).toContain('NOT_FOUND');
    expect(s.events).toEqual([]);
  }
  // A customer is not a shop.
  const notShop = subscribe(ws(buyer.token), SHOP_EVENTS, {}, pickShop);
  await notShop.ended;
  expect(JSON.stringify(notShop.errors)).toContain('FORBIDDEN');
  // A cursor from another order is bad input.
  const other2 = await newOrder(buyer.token);
  const [foreign] = await eventsInDb(other2);
  const wrong = subscribe(ws(buyer.token), ORDER_EVENTS, { o: orderId, a: foreign.id }, pickOrder);
  await wrong.ended;
  expect(JSON.stringify(wrong.errors)).toContain('BAD_USER_INPUT');

  // The merchant and an admin may follow it.
  for (const token of [merchant.token, admin]) {
    const s = subscribe(
      ws(token),
      ORDER_EVENTS,
      { o: orderId, a: (await eventsInDb(orderId))[0].id },
      pickOrder,
    );
    await touch(orderId);
    const got = await s.waitFor(1);
    expect(got[0].orderId).toBe(orderId);
    s.stop();
  }
});

test('the same depth limit applies over WebSocket as over HTTP', async () => {
  const buyer = await signUpCustomer(t.gql);
  // Deeper than GRAPHQL_MAX_DEPTH (10).
  const doc = `subscription($o: ID!) { orderEvents(orderId: $o) { ${'... on OrderEvent { '.repeat(12)} id ${'} '.repeat(12)} } }`;
  const s = subscribe(ws(buyer.token), doc, { o: await newOrder(buyer.token) }, pickOrder);
  await s.ended;
  expect(JSON.stringify(s.errors)).toMatch(/depth/i);
});

test('a socket is closed when its token expires', async () => {
  const buyer = await signUpCustomer(t.gql);
  const [user] = await sql('select id::text from app_user where email = ?', [buyer.email]);
  const shortLived = await new TokenService(t.app.config.jwtSecret, 1).sign({
    userId: user.id,
    roles: ['CUSTOMER' as any],
    merchantId: null,
  });
  let closed: number | undefined;
  const s = subscribe(
    ws(shortLived, (c) => (closed = c)),
    ORDER_EVENTS,
    { o: await newOrder(buyer.token) },
    pickOrder,
  );
  await s.ended;
  expect(closed).toBe(4403);
});

test('replay from a cursor, then live: under 8 concurrent writers every subscriber gets each later event once, in order', async () => {
  const buyer = await signUpCustomer(t.gql);
  const orderId = await newOrder(buyer.token);
  const WRITES = 160;
  let written = 0;
  const writers = Array.from({ length: 8 }, async () => {
    while (written < WRITES) {
      written++;
      await touch(orderId);
    }
  });
  // Subscribers join at random moments with the newest event they "had" as cursor.
  const subs: { from: number; sub: ReturnType<typeof subscribe> }[] = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
    const db = await eventsInDb(orderId);
    const cursor = db[Math.floor(Math.random() * db.length)];
    subs.push({
      from: cursor.seq,
      sub: subscribe(ws(buyer.token), ORDER_EVENTS, { o: orderId, a: cursor.id }, pickOrder),
    });
  }
  await Promise.all(writers);
  const all = await eventsInDb(orderId);
  expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1)); // numbered without holes
  for (const { from, sub } of subs) {
    const expected = all.filter((e) => e.seq > from).map((e) => e.id);
    await sub.waitFor(expected.length);
    await new Promise((r) => setTimeout(r, 100)); // nothing extra arrives
    expect(sub.events.map((e: any) => e.id)).toEqual(expected);
  }
});

test('a shop stream carries new orders and every later change, and resumes from a cursor', async () => {
  const shop = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, shop.token, { variants: [{ onHand: 100, price: '3.00' }] });
  const buyer = await signUpCustomer(t.gql);
  const live = subscribe(ws(shop.token), SHOP_EVENTS, {}, pickShop);
  await new Promise((r) => setTimeout(r, 200));
  const orders: string[] = [];
  for (let i = 0; i < 3; i++) {
    const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
    orders.push((await checkout(t.gql, buyer.token, cartId, `k-${uid()}`)).data.checkoutCreate.orders[0].id);
  }
  // Another shop's order is not in this stream.
  await newOrder(buyer.token);
  await t.gql(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename } }`,
    { id: orders[1] },
    buyer.token,
  );
  const got = [...(await live.waitFor(4))];
  await new Promise((r) => setTimeout(r, 200));
  expect(live.events.map((e: any) => [e.orderId, e.status])).toEqual([
    [orders[0], 'PENDING_PAYMENT'],
    [orders[1], 'PENDING_PAYMENT'],
    [orders[2], 'PENDING_PAYMENT'],
    [orders[1], 'CANCELLED'],
  ]);
  // Resume after the first: the other three, then live.
  const resumed = subscribe(ws(shop.token), SHOP_EVENTS, { a: got[0].id }, pickShop);
  await resumed.waitFor(3);
  await touch(orders[2]);
  await resumed.waitFor(4);
  expect(resumed.events.map((e: any) => e.id)).toEqual([
    ...got.slice(1).map((e: any) => e.id),
    resumed.events[3].id,
  ]);
  expect(resumed.events[3]).toMatchObject({ orderId: orders[2], type: 'SHIPMENT_UPDATED' });
});

test('events numbered by a relay that died before publishing are published by the next one', async () => {
  const buyer = await signUpCustomer(t.gql);
  const orderId = await newOrder(buyer.token);
  const sub = subscribe(ws(buyer.token), ORDER_EVENTS, { o: orderId }, pickOrder);
  await new Promise((r) => setTimeout(r, 200));
  await t.app.relay.stop();
  await touch(orderId);
  await touch(orderId);
  // What a leader does before it dies: numbers the events, but never publishes them.
  await sql(`with r as (select assigned_pos from outbox_relay),
                  n as (select id, (select assigned_pos from r) + row_number() over (order by id) as pos from order_event where pos is null)
             , u as (update order_event e set pos = n.pos from n where e.id = n.id)
             update outbox_relay set assigned_pos = (select coalesce(max(pos), assigned_pos) from n)`);
  await new Promise((r) => setTimeout(r, 300));
  expect(sub.events).toEqual([]);
  const next = new OutboxRelay(t.app.config.databaseUrl!, t.app.bus, pino({ level: 'silent' }), 200);
  t.app.relay = next;
  await next.start();
  const got = await sub.waitFor(2);
  expect(got.map((e: any) => e.id)).toEqual((await eventsInDb(orderId)).slice(1).map((e) => e.id));
  // The relay records what it published just after publishing it.
  for (const end = Date.now() + 5000; ;) {
    const [relay] = await sql('select assigned_pos::text, published_pos::text from outbox_relay');
    if (relay.published_pos === relay.assigned_pos || Date.now() > end) {
      expect(relay.published_pos).toBe(relay.assigned_pos);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
});
