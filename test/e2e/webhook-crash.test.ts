import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../../src/db/embedded';
import { ADMIN } from '../support/app';
import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer } from '../support/server-process';
import { until, WebhookReceiver } from '../support/webhook-receiver';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';

/**
 * The built server, killed (SIGKILL) while its webhook attempts wait on a receiver that has not
 * answered yet, then restarted on the same database: every delivery is sent again after its lease
 * runs out, with the same webhook-id and body, and ends DELIVERED. Nothing is lost.
 */

const ORDERS = 5;
let db: { url: string; drop(): Promise<void> } | undefined;
let receiver: WebhookReceiver | undefined;

afterAll(async () => {
  await cleanupServers();
  await receiver?.stop();
  await db?.drop();
});

test('a server killed mid-delivery delivers after its restart, with the same webhook-id', async () => {
  [db, receiver] = await Promise.all([createTestDatabase(), WebhookReceiver.start()]);
  const port = await freePort();
  const env = {
    DATABASE_URL: db.url,
    // One buyer leaves several checkouts unpaid on purpose: the anti-hoarding caps are not under test.
    CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
    CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: 'webhook-crash-jwt-secret-0123456789',
    PAYMENT_WEBHOOK_SECRET: 'webhook-crash-payment-secret-01234',
    LOGISTICS_WEBHOOK_SECRET: 'webhook-crash-logistics-secret-0123',
    // Nothing is paid here: no sandbox provider process to outlive the kill.
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    PAYMENT_PROVIDER_API_KEY: 'webhook-crash-provider-key-0123456',
    WEBHOOK_TIMEOUT_MS: '1500', // a lease is 2 × 1.5 s + 1 s
    WEBHOOK_POLL_MS: '200',
    WEBHOOK_ENDPOINT_CONCURRENCY: '10',
  };
  let srv = await startServer({ env, port });
  const gql = client(srv.url);
  const shop = await createMerchant(gql, await adminToken(gql));
  let receiverUp = false;
  receiver.on('/crash', () => (receiverUp ? { status: 200 } : 'hang'));
  const r = await gql(
    `mutation($u: String!) { webhookEndpointCreate(input: { url: $u, topics: [ORDER_CREATED] }) {
       ... on WebhookEndpointCreated { secret } } }`,
    { u: receiver.url('/crash') },
    shop.token,
  );
  const secret: string = r.data.webhookEndpointCreate.secret;
  const p = await createProduct(gql, shop.token, { variants: [{ onHand: 100 }] });
  const buyer = await signUpCustomer(gql);
  const orderIds: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const cartId = await createCart(gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
    const c = await checkout(gql, buyer.token, cartId, `k-${randomBytes(4).toString('hex')}`);
    orderIds.push(c.data.checkoutCreate.orders[0].id);
  }

  // Every delivery is in flight (the receiver holds the requests); then the server dies.
  await until(() => receiver!.to('/crash').length === ORDERS, 15_000, 'all attempts in flight');
  const firstAttempts = receiver.to('/crash').slice();
  const killed = await srv.stop('SIGKILL');
  expect(killed.signal).toBe('SIGKILL');
  receiverUp = true;

  srv = await startServer({ env, port });
  await until(
    () => receiver!.to('/crash').filter((x) => x.answered === 200).length >= ORDERS,
    30_000,
    'redelivery',
  );

  const answered = receiver.to('/crash').filter((x) => x.answered === 200);
  const wh = new Webhook(secret);
  const delivered = new Map(answered.map((x) => [x.headers['webhook-id'], x]));
  expect(delivered.size).toBe(ORDERS);
  for (const first of firstAttempts) {
    const again = delivered.get(first.headers['webhook-id'])!;
    expect(again).toBeDefined();
    expect(again.body).toBe(first.body);
    expect(wh.verify(again.body, again.headers)).toMatchObject({ type: 'order.created' });
  }
  const got = answered.map((x) => (JSON.parse(x.body) as { data: { orderId: string } }).data.orderId).sort();
  expect(got).toEqual([...orderIds].sort());

  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    // The outcome is recorded just after the receiver's answer.
    const byStatus = async () =>
      (await pg.query(`select status, count(*)::int as n from webhook_delivery group by status`)).rows;
    await until(
      async () => (await byStatus()).some((r) => r.status === 'DELIVERED' && r.n === ORDERS),
      10_000,
    );
    expect(await byStatus()).toEqual([{ status: 'DELIVERED', n: ORDERS }]);
  } finally {
    await pg.end();
  }
  await srv.stop('SIGTERM');
});
