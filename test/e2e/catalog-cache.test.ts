import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer } from '../support/server-process';

/**
 * Two server processes on one PostgreSQL and one Redis (TEST_REDIS_URL) share the catalog cache:
 * a product change, a stock change that moves a level, and an order that takes the last units,
 * all made through process A, show on process B's cached product page within a second.
 */
afterAll(() => cleanupServers());

const ENV = {
  PAYMENT_PROVIDER: 'sandbox',
  CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
  CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
  ADMIN_EMAIL: 'admin@cache.test',
  ADMIN_PASSWORD: 'admin-password-1',
  JWT_SECRET: 'cache-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'cache-payment-secret-012345678',
  LOGISTICS_WEBHOOK_SECRET: 'cache-logistics-secret-0123456',
  PAYMENT_PROVIDER_API_KEY: 'cache-provider-key-0123456789',
  DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
  CATALOG_CACHE_TTL_MS: '600000',
  CATALOG_CACHE_STALE_MS: '600000',
  EVENT_RELAY_POLL_MS: '200',
};

const PAGE = `query($s: String!) { product(slug: $s) { title availability variants { price { amount } availability } } }`;

/** Polls B until `check` holds; returns how long it took from `since`. */
async function within(since: number, check: () => Promise<boolean>, ms = 5000): Promise<number> {
  for (;;) {
    if (await check()) return Date.now() - since;
    if (Date.now() - since > ms) throw new Error('not seen in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('changes made through one process show on the other within a second', async () => {
  const db = await createTestDatabase();
  const env = { ...ENV, DATABASE_URL: db.url, REDIS_URL: process.env.TEST_REDIS_URL! };
  const a = await startServer({ env });
  const b = await startServer({ env });
  const [gqlA, gqlB] = [client(a.url), client(b.url)];
  const admin = (
    await gqlA(
      `mutation { signIn(email: "admin@cache.test", password: "admin-password-1") { ... on AuthPayload { token } } }`,
    )
  ).data.signIn.token;
  await gqlA(
    `mutation { merchantCreate(input: { name: "Shared", ownerEmail: "shop@cache.test", ownerPassword: "owner-password", ownerName: "S" }) { id } }`,
    {},
    admin,
  );
  const shop = (
    await gqlA(
      `mutation { signIn(email: "shop@cache.test", password: "owner-password") { ... on AuthPayload { token } } }`,
    )
  ).data.signIn.token;
  const made = await gqlA(
    `mutation { productCreate(input: { title: "Shared Lamp", description: "A lamp", variants: [{ sku: "SL-1", title: "Lamp", price: "9.00", onHand: 3, attributes: [] }] }) { id slug variants { id } } }`,
    {},
    shop,
  );
  const { id, slug } = made.data.productCreate;
  const variantId = made.data.productCreate.variants[0].id;
  const onB = async () => {
    const r = await gqlB(PAGE, { s: slug });
    expect(r.errors).toBeUndefined();
    return { page: r.data.product, statements: r.extensions?.sqlStatements ?? 0 };
  };

  // B caches the page (and A reads B's entry: one shared cache).
  expect((await onB()).page).toMatchObject({ title: 'Shared Lamp', availability: 'LOW_STOCK' });
  expect((await onB()).statements).toBe(0);
  const fromA = await gqlA(PAGE, { s: slug });
  expect(fromA.extensions?.sqlStatements).toBe(0);

  // A product write through A.
  let t0 = Date.now();
  await gqlA(
    `mutation($id: ID!) { productUpdate(id: $id, input: { title: "Shared Lamp II" }) { id } }`,
    { id },
    shop,
  );
  expect(await within(t0, async () => (await onB()).page.title === 'Shared Lamp II')).toBeLessThan(1000);

  // A stock change through A that moves the level (LOW_STOCK → IN_STOCK).
  t0 = Date.now();
  await gqlA(
    `mutation($v: ID!) { inventorySet(variantId: $v, onHand: 40) { available } }`,
    { v: variantId },
    shop,
  );
  expect(await within(t0, async () => (await onB()).page.availability === 'IN_STOCK')).toBeLessThan(1000);
  expect((await onB()).statements).toBe(0);

  // An order through A takes all but 2 units: B shows LOW_STOCK (via the outbox and Redis).
  const buyer = (
    await gqlA(
      `mutation { signUp(input: { email: "b@cache.test", password: "password-123", name: "B" }) { ... on AuthPayload { token } } }`,
    )
  ).data.signUp.token;
  const cart = (
    await gqlA(
      `mutation($v: ID!) { cartCreate(lines: [{ variantId: $v, quantity: 38 }]) { ... on Cart { id } } }`,
      {
        v: variantId,
      },
    )
  ).data.cartCreate.id;
  t0 = Date.now();
  const c = await gqlA(
    `mutation($c: ID!) { checkoutCreate(input: { cartId: $c, idempotencyKey: "k-1", shippingAddress: { name: "B", line1: "1 St", city: "Rome", postalCode: "00100", country: "IT" } }) { __typename } }`,
    { c: cart },
    buyer,
  );
  expect(c.data.checkoutCreate.__typename).toBe('Checkout');
  expect(await within(t0, async () => (await onB()).page.availability === 'LOW_STOCK')).toBeLessThan(1000);

  for (const s of [a, b]) expect((await s.stop('SIGTERM')).code).toBe(0);
  await db.drop();
});
