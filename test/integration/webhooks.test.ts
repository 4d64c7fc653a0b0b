import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Webhook } from 'standardwebhooks';
import { sqlAll } from '../../src/db/sql';
import { inTransaction } from '../../src/db/transaction';
import { recordOrderEvent } from '../../src/modules/events/order-events';
import { OrderEventKind } from '../../src/modules/order/order.types';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf } from '../support/client';
import { until, WebhookReceiver } from '../support/webhook-receiver';

/**
 * Outbound webhooks through the public API and a real receiver on 127.0.0.1: registration rules,
 * Standard Webhooks signatures checked by the `standardwebhooks` package (an implementation
 * independent of ours), retries with one webhook-id, DEAD after WEBHOOK_MAX_ATTEMPTS, redelivery,
 * and a slow receiver that must not hold up the relay or another endpoint.
 */

const MAX_ATTEMPTS = 4;
const ENV = {
  WEBHOOK_RETRY_BASE_SECONDS: '0.05',
  WEBHOOK_RETRY_MAX_SECONDS: '0.2',
  WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  WEBHOOK_TIMEOUT_MS: '3000',
  WEBHOOK_POLL_MS: '100',
  WEBHOOK_ENDPOINT_CONCURRENCY: '4',
};
const hex = () => randomBytes(4).toString('hex');

const CREATE = `mutation($i: WebhookEndpointCreateInput!) { webhookEndpointCreate(input: $i) {
  __typename ... on WebhookEndpointCreated { secret endpoint { id url topics createdAt } }
  ... on UserError { errorCode message field } } }`;
const LIST = `query($s: WebhookDeliveryStatus, $first: Int, $after: String) { webhookEndpoints { id url topics
  deliveries(status: $s, first: $first, after: $after) { edges { cursor node { id topic messageId status attempts lastStatusCode lastError nextAttemptAt createdAt } }
    pageInfo { hasNextPage endCursor } } } }`;
const REDELIVER = `mutation($d: ID!) { webhookRedeliver(deliveryId: $d) { id status attempts nextAttemptAt messageId } }`;

let t: TestApp;
let receiver: WebhookReceiver;
let admin: string;

beforeAll(async () => {
  [t, receiver] = await Promise.all([startTestApp(ENV), WebhookReceiver.start()]);
  admin = await adminToken(t.gql);
});
afterAll(async () => {
  await t?.stop();
  await receiver?.stop();
});

const sql = <T = any>(q: string, params: unknown[] = []) =>
  sqlAll<T>(t.app.orm.em.fork() as unknown as EntityManager, q, params);

async function register(token: string, url: string, topics: string[]) {
  const r = await t.gql(CREATE, { i: { url, topics } }, token);
  expect(r.data.webhookEndpointCreate.__typename).toBe('WebhookEndpointCreated');
  return r.data.webhookEndpointCreate as { secret: string; endpoint: { id: string } };
}

/** A fresh shop with one order (its ORDER_CREATED event is written by the checkout). */
async function shopWithOrder(): Promise<{ shop: { id: string; token: string }; orderId: string }> {
  const shop = await createMerchant(t.gql, admin);
  return { shop, orderId: (await placeOrder(shop.token)).orderId };
}

async function placeOrder(shopToken: string): Promise<{ orderId: string; buyer: string }> {
  const p = await createProduct(t.gql, shopToken, { variants: [{ onHand: 100 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
  const c = await checkout(t.gql, buyer.token, cartId, `k-${hex()}`);
  return { orderId: c.data.checkoutCreate.orders[0].id, buyer: buyer.token };
}

/** An order event written the way the fulfillment module writes one (SHIPMENT_UPDATED). */
const shipmentEvent = (orderId: string) =>
  inTransaction(t.app.orm.em as unknown as EntityManager, (tx) =>
    recordOrderEvent(tx, { orderId, type: OrderEventKind.SHIPMENT_UPDATED }),
  );

const verify = (secret: string, r: { body: string; headers: Record<string, string> }) =>
  new Webhook(secret).verify(r.body, r.headers) as { type: string; timestamp: string; data: any };

test('registration: whsec_ secret shown once, URL and topic rules, only the shop itself (or an admin naming it)', async () => {
  const shop = await createMerchant(t.gql, admin);
  const created = await register(shop.token, receiver.url('/reg'), ['ORDER_CREATED', 'ORDER_CREATED']);
  expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);
  expect(created.endpoint).toMatchObject({ url: receiver.url('/reg'), topics: ['ORDER_CREATED'] });

  // Malformed URLs and other schemes are WEBHOOK_URL_INVALID, with nothing stored.
  for (const url of ['not a url', 'ftp://example.com/hook', 'http://user:pw@example.com/', ' ']) {
    const r = await t.gql(CREATE, { i: { url, topics: ['ORDER_CREATED'] } }, shop.token);
    expect(r.data.webhookEndpointCreate).toMatchObject({ errorCode: 'WEBHOOK_URL_INVALID', field: 'url' });
  }
  // An unknown topic or none at all is BAD_USER_INPUT.
  const unknown = await t.gql(
    CREATE,
    { i: { url: receiver.url('/x'), topics: ['ORDER_EATEN'] } },
    shop.token,
  );
  expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
  const none = await t.gql(CREATE, { i: { url: receiver.url('/x'), topics: [] } }, shop.token);
  expect(codeOf(none)).toBe('BAD_USER_INPUT');

  const list = (await t.gql(LIST, {}, shop.token)).data.webhookEndpoints;
  expect(list.map((e: { id: string }) => e.id)).toEqual([created.endpoint.id]);

  // A customer cannot; an admin must name the shop; another shop does not see or delete it.
  const buyer = await signUpCustomer(t.gql);
  expect(
    codeOf(await t.gql(CREATE, { i: { url: receiver.url('/x'), topics: ['ORDER_CREATED'] } }, buyer.token)),
  ).toBe('FORBIDDEN');
  expect(codeOf(await t.gql(CREATE, { i: { url: receiver.url('/x'), topics: ['ORDER_CREATED'] } }))).toBe(
    'UNAUTHENTICATED',
  );
  expect(
    codeOf(await t.gql(CREATE, { i: { url: receiver.url('/x'), topics: ['ORDER_CREATED'] } }, admin)),
  ).toBe('BAD_USER_INPUT');
  const byAdmin = await t.gql(
    CREATE,
    { i: { url: receiver.url('/admin'), topics: ['SHIPMENT_UPDATED'], merchantId: shop.id } },
    admin,
  );
  expect(byAdmin.data.webhookEndpointCreate.__typename).toBe('WebhookEndpointCreated');
  const other = await createMerchant(t.gql, admin);
  expect((await t.gql(LIST, {}, other.token)).data.webhookEndpoints).toEqual([]);
  const del = `mutation($id: ID!) { webhookEndpointDelete(id: $id) }`;
  expect(codeOf(await t.gql(del, { id: created.endpoint.id }, other.token))).toBe('NOT_FOUND');
  expect((await t.gql(del, { id: created.endpoint.id }, shop.token)).data.webhookEndpointDelete).toBe(true);
  expect((await t.gql(del, { id: created.endpoint.id }, shop.token)).data.webhookEndpointDelete).toBe(false);
  expect((await t.gql(LIST, {}, shop.token)).data.webhookEndpoints).toHaveLength(1);
});

test('a checkout reaches the subscribed endpoint once, signed per Standard Webhooks; other topics and shops get nothing', async () => {
  const shop = await createMerchant(t.gql, admin);
  const orders = await register(shop.token, receiver.url('/created'), [
    'ORDER_CREATED',
    'ORDER_STATUS_CHANGED',
  ]);
  await register(shop.token, receiver.url('/shipments-only'), ['SHIPMENT_UPDATED']);
  const other = await createMerchant(t.gql, admin);
  await register(other.token, receiver.url('/other-shop'), ['ORDER_CREATED']);

  const { orderId, buyer } = await placeOrder(shop.token);
  const [got] = await until(() => receiver.to('/created').length === 1 && receiver.to('/created'), 10_000);
  const payload = verify(orders.secret, got);
  expect(payload).toMatchObject({
    type: 'order.created',
    data: { orderId, merchantId: shop.id, sequence: 1, status: 'PENDING_PAYMENT' },
  });
  expect(new Date(payload.timestamp).getTime()).toBeLessThanOrEqual(Date.now());
  expect(got.headers['webhook-id']).toMatch(/^msg_\d+_\d+$/);
  expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
  // A tampered body or another secret does not verify.
  expect(() => verify(orders.secret, { ...got, body: got.body.replace(orderId, '1') })).toThrow();
  expect(() => verify(`whsec_${randomBytes(32).toString('base64')}`, got)).toThrow();

  // The buyer's cancellation (a status change) follows on the same endpoint.
  const cancel = await t.gql(
    `mutation($o: ID!) { orderCancel(orderId: $o) { __typename ... on Order { status } } }`,
    { o: orderId },
    buyer,
  );
  expect(cancel.data.orderCancel).toMatchObject({ status: 'CANCELLED' });
  const cancelled = await until(() => receiver.to('/created')[1], 10_000, 'the status change');
  expect(verify(orders.secret, cancelled)).toMatchObject({
    type: 'order.status_changed',
    data: { orderId, sequence: 2, status: 'CANCELLED' },
  });
  expect(cancelled.headers['webhook-id']).not.toBe(got.headers['webhook-id']);
  await new Promise((r) => setTimeout(r, 500));
  expect(receiver.to('/shipments-only')).toHaveLength(0);
  expect(receiver.to('/other-shop')).toHaveLength(0);
  expect(receiver.to('/created')).toHaveLength(2);
  const [, d] = (await t.gql(LIST, {}, shop.token)).data.webhookEndpoints.find(
    (e: { id: string }) => e.id === orders.endpoint.id,
  ).deliveries.edges;
  expect(d.node).toMatchObject({
    topic: 'ORDER_CREATED',
    status: 'DELIVERED',
    attempts: 1,
    lastStatusCode: 200,
    lastError: null,
    nextAttemptAt: null,
    messageId: got.headers['webhook-id'],
  });
});

test('a receiver failing 3 times then succeeding: four attempts with one webhook-id, exactly one success', async () => {
  const { shop, orderId } = await shopWithOrder();
  receiver.on('/flaky', (n) => ({ status: n <= 3 ? 503 : 200 }));
  const ep = await register(shop.token, receiver.url('/flaky'), ['SHIPMENT_UPDATED']);
  await shipmentEvent(orderId);
  await until(() => receiver.to('/flaky').length >= 4, 10_000, 'four attempts');
  await new Promise((r) => setTimeout(r, 700)); // nothing more may come
  const got = receiver.to('/flaky');
  expect(got.map((r) => r.answered)).toEqual([503, 503, 503, 200]);
  expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
  for (const r of got) expect(verify(ep.secret, r).type).toBe('shipment.updated');
  expect(new Set(got.map((r) => r.body)).size).toBe(1); // the same bytes every time
  // Backoff: each wait at least 80 % of base × 2^(n-1) (50, 100, 200 ms), capped at 200 ms.
  const gaps = got.slice(1).map((r, i) => r.at - got[i].at);
  gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(0.8 * Math.min(50 * 2 ** i, 200) - 5));
  const [row] = await sql(
    'select status, attempts, last_status_code from webhook_delivery where endpoint_id = $1',
    [ep.endpoint.id],
  );
  expect(row).toMatchObject({ status: 'DELIVERED', attempts: 4, last_status_code: 200 });
});

test('DEAD after WEBHOOK_MAX_ATTEMPTS failures, listed with its last error; webhookRedeliver brings it back with the same id', async () => {
  const { shop, orderId } = await shopWithOrder();
  let down = true;
  receiver.on('/down', () => ({ status: down ? 500 : 204 }));
  const ep = await register(shop.token, receiver.url('/down'), ['SHIPMENT_UPDATED']);
  await shipmentEvent(orderId);
  const dead = await until(
    async () => {
      const eps = (await t.gql(LIST, { s: 'DEAD' }, shop.token)).data.webhookEndpoints;
      return eps[0].deliveries.edges[0]?.node;
    },
    10_000,
    'a DEAD delivery',
  );
  expect(dead).toMatchObject({
    status: 'DEAD',
    attempts: MAX_ATTEMPTS,
    lastStatusCode: 500,
    lastError: 'HTTP 500',
    nextAttemptAt: null,
  });
  await new Promise((r) => setTimeout(r, 500));
  expect(receiver.to('/down')).toHaveLength(MAX_ATTEMPTS);

  // Someone else cannot redeliver it; the shop can, once the receiver is back.
  const other = await createMerchant(t.gql, admin);
  expect(codeOf(await t.gql(REDELIVER, { d: dead.id }, other.token))).toBe('NOT_FOUND');
  down = false;
  const again = (await t.gql(REDELIVER, { d: dead.id }, shop.token)).data.webhookRedeliver;
  expect(again).toMatchObject({ id: dead.id, status: 'PENDING', messageId: dead.messageId });
  await until(() => receiver.to('/down').length === MAX_ATTEMPTS + 1, 10_000, 'the redelivery');
  const last = receiver.to('/down').at(-1)!;
  expect(last.headers['webhook-id']).toBe(dead.messageId);
  expect(verify(ep.secret, last).data.orderId).toBe(orderId);
  const done = await until(async () => {
    const n = (await t.gql(LIST, {}, shop.token)).data.webhookEndpoints[0].deliveries.edges[0].node;
    return n.status === 'DELIVERED' && n;
  });
  expect(done).toMatchObject({ attempts: MAX_ATTEMPTS + 1, lastStatusCode: 204, lastError: null });
  // A delivered one may be sent again too (a receiver that lost it).
  await t.gql(REDELIVER, { d: dead.id }, shop.token);
  await until(() => receiver.to('/down').length === MAX_ATTEMPTS + 2, 10_000, 'a second redelivery');
});

test('deliveries page newest first with cursors and a status filter, in one statement for all endpoints', async () => {
  const { shop, orderId } = await shopWithOrder();
  await register(shop.token, receiver.url('/page-a'), ['SHIPMENT_UPDATED']);
  await register(shop.token, receiver.url('/page-b'), ['SHIPMENT_UPDATED']);
  for (let i = 0; i < 5; i++) await shipmentEvent(orderId);
  await until(() => receiver.to('/page-a').length === 5 && receiver.to('/page-b').length === 5);
  const first = await t.gql(LIST, { first: 3 }, shop.token);
  const [a, b] = first.data.webhookEndpoints;
  expect(a.deliveries.edges).toHaveLength(3);
  expect(b.deliveries.edges).toHaveLength(3);
  expect(a.deliveries.pageInfo.hasNextPage).toBe(true);
  const ids = a.deliveries.edges.map((e: any) => Number(e.node.id));
  expect(ids).toEqual([...ids].sort((x, y) => y - x));
  const rest = await t.gql(LIST, { first: 3, after: a.deliveries.pageInfo.endCursor }, shop.token);
  expect(rest.data.webhookEndpoints[0].deliveries.edges).toHaveLength(2);
  expect(rest.data.webhookEndpoints[0].deliveries.pageInfo.hasNextPage).toBe(false);
  expect((await t.gql(LIST, { s: 'DEAD' }, shop.token)).data.webhookEndpoints[0].deliveries.edges).toEqual(
    [],
  );
  expect(codeOf(await t.gql(LIST, { first: 1000 }, shop.token))).toBe('BAD_USER_INPUT');
  expect(codeOf(await t.gql(LIST, { after: 'nonsense!' }, shop.token))).toBe('BAD_USER_INPUT');
  // endpoints + one deliveries statement (+ auth), whatever the number of endpoints
  expect(first.extensions?.sqlStatements).toBeLessThanOrEqual(3);
});

test('50 concurrent events to a slow receiver hold up neither the relay nor another endpoint', async () => {
  const { shop, orderId } = await shopWithOrder();
  const SLOW_MS = 1000;
  receiver.on('/slow', () => ({ status: 200, delayMs: SLOW_MS }));
  await register(shop.token, receiver.url('/slow'), ['SHIPMENT_UPDATED']);
  await register(shop.token, receiver.url('/fast'), ['SHIPMENT_UPDATED']);
  const started = Date.now();
  const events = await Promise.all(Array.from({ length: 50 }, () => shipmentEvent(orderId)));
  const lastId = Math.max(...events.map((e) => Number(e.id)));
  // The relay publishes all 50 at once (it does not wait for any delivery).
  await until(async () => {
    const [r] = await sql<{ ok: boolean }>(
      'select (select published_pos from outbox_relay) >= (select pos from order_event where id = $1) as ok',
      [lastId],
    );
    return r.ok;
  }, 10_000);
  const relayMs = Date.now() - started;
  // The fast endpoint gets all 50 long before the slow one could have (50 / 4 in flight × 1 s ≈ 12 s).
  await until(() => receiver.to('/fast').length === 50, 10_000, 'the fast endpoint');
  const fastMs = Date.now() - started;
  const slowSoFar = receiver.to('/slow').filter((r) => r.answered).length;
  expect(relayMs).toBeLessThan(3_000);
  expect(fastMs).toBeLessThan(5_000);
  expect(slowSoFar).toBeLessThan(50);
  // The slow receiver never had more than WEBHOOK_ENDPOINT_CONCURRENCY requests at once.
  await until(() => receiver.to('/slow').length >= 8, 10_000);
  expect(receiver.maxInFlight.get('/slow')).toBeLessThanOrEqual(4);
  expect(receiver.maxInFlight.get('/slow')).toBeGreaterThanOrEqual(2);
});

test('the connection goes to the address that was resolved and checked (a name only our resolver knows)', async () => {
  const { shop, orderId } = await shopWithOrder();
  const previous = t.app.services.webhooks.resolve;
  t.app.services.webhooks.resolve = async (host) =>
    host === 'receiver.webhooks.test' ? [{ address: '127.0.0.1', family: 4 }] : previous(host);
  try {
    await register(shop.token, receiver.url('/pinned', 'receiver.webhooks.test'), ['SHIPMENT_UPDATED']);
    await shipmentEvent(orderId);
    const [r] = await until(() => receiver.to('/pinned').length === 1 && receiver.to('/pinned'));
    expect(r.headers.host).toBe(`receiver.webhooks.test:${receiver.port}`);
  } finally {
    t.app.services.webhooks.resolve = previous;
  }
});
