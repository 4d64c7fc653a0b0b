import { Client } from 'pg';
import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer } from '../support/server-process';
import { subscribe, wsClient } from '../support/ws';

/**
 * Several stateless processes on one PostgreSQL, started together on an empty database, as a
 * scaled-out deployment starts: they take turns migrating and then share everything.
 */
afterAll(() => cleanupServers());

const ENV = {
  PAYMENT_PROVIDER: 'sandbox',
  CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
  CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
  ADMIN_EMAIL: 'admin@scale.test',
  ADMIN_PASSWORD: 'admin-password-1',
  JWT_SECRET: 'scale-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'scale-payment-secret-012345678',
  LOGISTICS_WEBHOOK_SECRET: 'scale-logistics-secret-0123456',
  PAYMENT_PROVIDER_API_KEY: 'scale-provider-key-0123456789',
  DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
};

test('three processes started at once on an empty database migrate once and serve the same data', async () => {
  const db = await createTestDatabase();
  // An empty database, not the migrated template.
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(
    'drop schema public cascade; create schema public; drop schema if exists pgboss cascade; drop schema if exists archive cascade',
  );
  await admin.end();

  const servers = await Promise.all(
    [0, 1, 2].map(() => startServer({ env: { ...ENV, DATABASE_URL: db.url } })),
  );
  const [a, b, c] = servers.map((s) => client(s.url));
  const signIn = `mutation { signIn(email: "admin@scale.test", password: "admin-password-1") { ... on AuthPayload { token } } }`;
  const token = (await a(signIn)).data.signIn.token;
  const made = await b(
    `mutation { categoryCreate(input: { name: "Shared", slug: "shared" }) { id } }`,
    {},
    token,
  );
  expect(made.errors).toBeUndefined();
  const seen = await c(`{ categories { slug } }`);
  expect(seen.data.categories.map((x: { slug: string }) => x.slug)).toContain('shared');

  const check = new Client({ connectionString: db.url });
  await check.connect();
  const applied = await check.query('select name from mikro_orm_migrations order by id');
  const admins = await check.query(
    `select count(*)::int as n from app_user where email = 'admin@scale.test'`,
  );
  await check.end();
  // Each migration once, the bootstrap admin once.
  expect(applied.rows.map((r) => r.name)).toEqual([...new Set(applied.rows.map((r) => r.name))]);
  expect(applied.rows.length).toBeGreaterThanOrEqual(4);
  expect(admins.rows[0].n).toBe(1);
  for (const s of servers) expect((await s.stop('SIGTERM')).code).toBe(0);
  await db.drop();
});

test('an event caused through one process reaches a subscriber on another (Redis), also after the relaying process is killed', async () => {
  const redisUrl = process.env.TEST_REDIS_URL!;
  const db = await createTestDatabase();
  const env = { ...ENV, DATABASE_URL: db.url, REDIS_URL: redisUrl, EVENT_RELAY_POLL_MS: '200' };
  // A starts first, so A relays; B starts once A serves.
  const a = await startServer({ env });
  const b = await startServer({ env });
  const [gqlA, gqlB] = [client(a.url), client(b.url)];
  const token = (
    await gqlA(
      `mutation { signIn(email: "admin@scale.test", password: "admin-password-1") { ... on AuthPayload { token } } }`,
    )
  ).data.signIn.token;
  const shop = (
    await gqlA(
      `mutation { merchantCreate(input: { name: "Far", ownerEmail: "far@scale.test", ownerPassword: "owner-password", ownerName: "Far" }) { id } }`,
      {},
      token,
    )
  ).data.merchantCreate;
  expect(shop.id).toBeDefined();
  const shopToken = (
    await gqlA(
      `mutation { signIn(email: "far@scale.test", password: "owner-password") { ... on AuthPayload { token } } }`,
    )
  ).data.signIn.token;
  const product = await gqlA(
    `mutation { productCreate(input: { title: "Lamp", description: "A lamp", variants: [{ sku: "L-1", title: "Lamp", price: "9.00", onHand: 50, attributes: [] }] }) { variants { id } } }`,
    {},
    shopToken,
  );
  const variantId = product.data.productCreate.variants[0].id;
  const buyer = (
    await gqlA(
      `mutation { signUp(input: { email: "b@scale.test", password: "password-123", name: "B" }) { ... on AuthPayload { token } } }`,
    )
  ).data.signUp.token;
  const order = async (gql: typeof gqlA) => {
    const cart = (
      await gql(
        `mutation($v: ID!) { cartCreate(lines: [{ variantId: $v, quantity: 1 }]) { ... on Cart { id } } }`,
        { v: variantId },
      )
    ).data.cartCreate.id;
    const r = await gql(
      `mutation($c: ID!, $k: String!) { checkoutCreate(input: { cartId: $c, idempotencyKey: $k, shippingAddress: { name: "B", line1: "1 St", city: "Rome", postalCode: "00100", country: "IT" } }) { ... on Checkout { orders { id } } } }`,
      { c: cart, k: `k-${Math.random()}` },
      buyer,
    );
    return r.data.checkoutCreate.orders[0].id as string;
  };
  const cancel = (gql: typeof gqlA, id: string) =>
    gql(`mutation($id: ID!) { orderCancel(orderId: $id) { __typename } }`, { id }, buyer);

  const first = await order(gqlA);
  const second = await order(gqlA);
  const onB = wsClient(b.url, buyer);
  const shopOnB = wsClient(b.url, shopToken);
  const watch = subscribe(
    onB,
    `subscription($o: ID!) { orderEvents(orderId: $o) { orderId status } }`,
    { o: first },
    (d) => d.orderEvents,
  );
  const shopWatch = subscribe(
    shopOnB,
    `subscription { merchantOrderEvents { orderId status } }`,
    {},
    (d) => d.merchantOrderEvents,
  );
  await new Promise((r) => setTimeout(r, 500));
  expect((await cancel(gqlA, first)).data.orderCancel.__typename).toBe('Order');
  expect(await watch.waitFor(1)).toEqual([{ orderId: first, status: 'CANCELLED' }]);

  // The relaying process dies; B takes the relay over and the stream goes on.
  await a.stop('SIGKILL');
  const third = await order(gqlB);
  expect((await cancel(gqlB, second)).data.orderCancel.__typename).toBe('Order');
  await shopWatch.waitFor(3, 20_000);
  expect(shopWatch.events).toEqual([
    { orderId: first, status: 'CANCELLED' },
    { orderId: third, status: 'PENDING_PAYMENT' },
    { orderId: second, status: 'CANCELLED' },
  ]);
  await Promise.all([onB.dispose(), shopOnB.dispose()]);
  expect((await b.stop('SIGTERM')).code).toBe(0);
  await db.drop();
});
