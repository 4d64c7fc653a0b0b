import { createHash, randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { client, codeOf, type Gql } from '../support/client';
import { createTestDatabase } from '../support/db';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';
import { subscribe, wsClient } from '../support/ws';

/**
 * Two server processes on one PostgreSQL and a real 3-master Redis Cluster (REDIS_URL=
 * redis-cluster://...): live events fan out through sharded pub/sub, the shared catalog cache is
 * invalidated across processes, rate limits count across processes, and an APQ document
 * registered through one process is found by the other.
 */
const ENV = {
  ADMIN_EMAIL: 'admin@cluster.test',
  ADMIN_PASSWORD: 'admin-password-1',
  JWT_SECRET: 'cluster-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'cluster-payment-secret-012345678',
  LOGISTICS_WEBHOOK_SECRET: 'cluster-logistics-secret-0123456',
  PAYMENT_PROVIDER_API_KEY: 'cluster-provider-key-0123456789',
  PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
  DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
  EVENT_RELAY_POLL_MS: '200',
  CATALOG_CACHE_TTL_MS: '600000',
  CATALOG_CACHE_STALE_MS: '600000',
  RATE_LIMIT_USER_PER_MINUTE: '20',
};

let cluster: RedisClusterHandle;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: ServerProcess;
let b: ServerProcess;
let gqlA: Gql;
let gqlB: Gql;
let admin: string;
let shop: string;
let redis: Cluster;

const signIn = async (gql: Gql, email: string, password: string) =>
  (
    await gql(
      `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { ... on AuthPayload { token } } }`,
      { e: email, p: password },
    )
  ).data.signIn.token as string;

const signUp = async (gql: Gql) => {
  const email = `u-${randomBytes(4).toString('hex')}@cluster.test`;
  const r = await gql(
    `mutation($e: String!) { signUp(input: { email: $e, password: "password-123", name: "U" }) { ... on AuthPayload { token viewer { id } } } }`,
    { e: email },
  );
  return { token: r.data.signUp.token as string, id: r.data.signUp.viewer.id as string };
};

const product = async (title: string, onHand = 50) => {
  const r = await gqlA(
    `mutation($t: String!, $s: String!, $n: Int!) { productCreate(input: { title: $t, description: "x", variants: [{ sku: $s, title: $t, price: "9.00", onHand: $n, attributes: [] }] }) { id slug variants { id } } }`,
    { t: title, s: `SKU-${randomBytes(4).toString('hex')}`, n: onHand },
    shop,
  );
  expect(r.errors).toBeUndefined();
  const p = r.data.productCreate;
  return { id: p.id as string, slug: p.slug as string, variantId: p.variants[0].id as string };
};

async function within<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; ;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('not seen in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [cluster, db] = await Promise.all([startRedisCluster(), createTestDatabase()]);
  const env = { ...ENV, DATABASE_URL: db.url, REDIS_URL: cluster.url };
  // Whichever relays the outbox, B's subscribers hear events only through the cluster.
  [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  [gqlA, gqlB] = [client(a.url), client(b.url)];
  admin = await signIn(gqlA, ENV.ADMIN_EMAIL, ENV.ADMIN_PASSWORD);
  const made = await gqlA(
    `mutation { merchantCreate(input: { name: "Clustered", ownerEmail: "shop@cluster.test", ownerPassword: "owner-password", ownerName: "S" }) { id } }`,
    {},
    admin,
  );
  expect(made.errors).toBeUndefined();
  shop = await signIn(gqlA, 'shop@cluster.test', 'owner-password');
  redis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
});

afterAll(async () => {
  redis?.disconnect();
  await cleanupServers();
  await db?.drop();
  await cluster?.stop();
});

test('an order event caused through A reaches a subscriber on B over a sharded channel', async () => {
  const { variantId } = await product('Lamp');
  const buyer = await signUp(gqlA);
  const cart = (
    await gqlA(
      `mutation($v: ID!) { cartCreate(lines: [{ variantId: $v, quantity: 1 }]) { ... on Cart { id } } }`,
      {
        v: variantId,
      },
    )
  ).data.cartCreate.id;
  const placed = await gqlA(
    `mutation($c: ID!) { checkoutCreate(input: { cartId: $c, idempotencyKey: "k-1", shippingAddress: { name: "B", line1: "1 St", city: "Rome", postalCode: "00100", country: "IT" } }) { ... on Checkout { orders { id } } } }`,
    { c: cart },
    buyer.token,
  );
  const orderId = placed.data.checkoutCreate.orders[0].id as string;
  const ws = wsClient(b.url, buyer.token);
  const watch = subscribe(
    ws,
    `subscription($o: ID!) { orderEvents(orderId: $o) { orderId status } }`,
    { o: orderId },
    (d) => d.orderEvents,
  );
  // The cancel must happen after B listens for this order: wait for B to count the subscription.
  await within(async () => {
    const metrics = await (await fetch(`${b.origin}/metrics`)).text();
    return /^order_event_subscriptions 1$/m.test(metrics) ? true : undefined;
  }, 30_000);
  const cancelled = await gqlA(
    `mutation($id: ID!) { orderCancel(orderId: $id) { __typename } }`,
    { id: orderId },
    buyer.token,
  );
  expect(cancelled.data.orderCancel.__typename).toBe('Order');
  expect(await watch.waitFor(1, 30_000)).toEqual([{ orderId, status: 'CANCELLED' }]);
  await ws.dispose();

  // Both processes listen on the sharded channel (SSUBSCRIBE), none on a classic one.
  const shardSubs = await Promise.all(
    redis.nodes('master').map((n) => n.call('PUBSUB', 'SHARDNUMSUB', 'commerce:order-events')),
  );
  expect(Math.max(...shardSubs.map((r) => Number((r as [string, number])[1])))).toBeGreaterThanOrEqual(2);
  const classic = await Promise.all(
    redis.nodes('master').map((n) => n.call('PUBSUB', 'NUMSUB', 'commerce:order-events')),
  );
  expect(classic.map((r) => Number((r as [string, number])[1]))).toEqual([0, 0, 0]);
});

test('a product page cached on B shows a change made through A', async () => {
  const { id, slug } = await product('Cached Lamp');
  const PAGE = `query($s: String!) { product(slug: $s) { title } }`;
  const onB = async () => {
    const r = await gqlB(PAGE, { s: slug });
    expect(r.errors).toBeUndefined();
    return { title: r.data.product.title as string, statements: r.extensions?.sqlStatements ?? 0 };
  };
  expect((await onB()).title).toBe('Cached Lamp');
  // Served from the cluster now, by B and by A alike (polled: a loaded machine may time a write out).
  await within(async () => ((await onB()).statements === 0 ? true : undefined), 5000);
  expect((await gqlA(PAGE, { s: slug })).extensions?.sqlStatements).toBe(0);

  const t0 = Date.now();
  const updated = await gqlA(
    `mutation($id: ID!) { productUpdate(id: $id, input: { title: "Cached Lamp II" }) { id } }`,
    { id },
    shop,
  );
  expect(updated.errors).toBeUndefined();
  await within(async () => ((await onB()).title === 'Cached Lamp II' ? true : undefined), 5000);
  expect(Date.now() - t0).toBeLessThan(5000);
});

test('a user has one window across both processes: 20 operations in all, then 429 on either', async () => {
  const user = await signUp(gqlA);
  const me = (gql: Gql) => gql(`{ viewer { id } }`, {}, user.token);
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) seen.push((await me(i % 2 ? gqlB : gqlA)).status);
  expect(seen).toEqual(Array(20).fill(200));
  const [overA, overB] = [await me(gqlA), await me(gqlB)];
  expect([overA.status, codeOf(overA), overB.status, codeOf(overB)]).toEqual([
    429,
    'RATE_LIMITED',
    429,
    'RATE_LIMITED',
  ]);
  // The counter is one key in the cluster.
  expect(Number(await redis.get(`rl:user:${user.id}`))).toBeGreaterThanOrEqual(20);
});

test('an APQ document registered through A is found through B', async () => {
  const query = `{ categories { id slug } } # ${randomBytes(6).toString('hex')}`;
  const extensions = {
    persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') },
  };
  const post = async (s: ServerProcess, body: object) => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, ...((await res.json()) as any) };
  };
  expect(codeOf(await post(b, { extensions }))).toBe('PERSISTED_QUERY_NOT_FOUND');
  const registered = await post(a, { query, extensions });
  expect(registered.errors).toBeUndefined();
  // Apollo answers the registering request without waiting for its cache write (the APQ protocol
  // lets a client that misses send the text again): wait until the write has reached the cluster,
  // the state B reads, rather than racing it.
  const apqKey = `commerce:apq:${extensions.persistedQuery.sha256Hash}`;
  expect(await within(async () => (await redis.get(apqKey)) ?? undefined, 15_000)).toBe(query);
  const found = await post(b, { extensions });
  expect(found.errors).toBeUndefined();
  expect(Array.isArray(found.data.categories)).toBe(true);
});
