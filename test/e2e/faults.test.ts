import { randomBytes } from 'node:crypto';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { client } from '../support/client';
import { moneyProblems } from '../support/money-invariants';
import { startPgServer, startRedisServer, type PgServer, type RedisServer } from '../support/pg-server';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';

/**
 * Issue 9 under real faults: the built server on a PostgreSQL 15 and a Redis that this test owns
 * and hurts (freeze, read-only, a table lock, a restart, Redis gone). After each fault: the SQL
 * invariants hold, the outage reached clients as SERVICE_UNAVAILABLE (HTTP 503 + Retry-After)
 * within the request's budget, /readyz said so within 2 s, and the first request after the fault
 * succeeds within 2 s, on the same server process.
 *
 * Budget here: query timeout 2 s + pool acquire 1.5 s (short timeouts set for the test).
 */

const BUDGET_MS = 3_500;
const MARGIN_MS = 1_500; // a loaded, shared machine
const hex = () => randomBytes(5).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let pg: PgServer;
let redis: RedisServer;
let server: ServerProcess;
let db: string;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  pg = await startPgServer();
  redis = await startRedisServer();
  db = `faults_${hex()}`;
  const url = await pg.createDatabase(db);
  server = await startServer({
    env: {
      DATABASE_URL: url,
      PAYMENT_PROVIDER: 'sandbox',
      CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
      CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
      REDIS_URL: redis.url,
      ADMIN_EMAIL: 'admin@test.local',
      ADMIN_PASSWORD: 'admin-password-1',
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      SHIPPING_FEE: '0',
      DB_STATEMENT_TIMEOUT_MS: '1500',
      DB_LOCK_TIMEOUT_MS: '500',
      DB_QUERY_TIMEOUT_MS: '2000',
      DB_CONNECT_TIMEOUT_MS: '1000',
      DB_POOL_ACQUIRE_TIMEOUT_MS: '1500',
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '5000',
      READYZ_TIMEOUT_MS: '1000',
      EVENT_RELAY_POLL_MS: '200',
      SEARCH_CACHE_TTL_MS: '0', // every read reaches the database
    },
  });
}, 120_000);

afterAll(async () => {
  console.log(`fault figures: ${JSON.stringify(figures)}`);
  // Defects the server logged (an outage is logged as a warning, not here).
  const defects = server?.logs().filter((l) => l.level >= 50) ?? [];
  if (defects.length) console.log(JSON.stringify(defects.slice(0, 3)).slice(0, 3000));
  await cleanupServers();
  await redis?.stop();
  await pg?.destroy();
});

const gql = () => client(server.url);
const sql = <T = any>(q: string) => pg.query<T>(q, [], db);

interface Timed {
  status: number;
  ms: number;
  retryAfter: string | null;
  body: any;
}

async function post(query: string, variables: object = {}, token?: string): Promise<Timed> {
  const started = Date.now();
  try {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await res.json();
    return { status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), body };
  } catch (e) {
    return { status: 0, ms: Date.now() - started, retryAfter: null, body: { error: String(e) } };
  }
}

async function readyz(): Promise<{ status: number; ms: number; body: any }> {
  const started = Date.now();
  const res = await fetch(`${server.origin}/readyz`, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, ms: Date.now() - started, body: await res.json() };
}

const unavailable = (r: Timed) =>
  r.status === 503 &&
  r.retryAfter !== null &&
  r.body.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE' &&
  r.body.errors[0].extensions.retryable === true;

/** A shop and a buyer with a cart to check out (fresh cart each call). */
let shop: { buyer: { token: string }; variantId: string; admin: string };
async function newCart(): Promise<string> {
  return createCart(gql(), [{ variantId: shop.variantId, quantity: 1 }]);
}
const CHECKOUT_MUTATION = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename ... on Checkout { id } ... on ErrorResult { errorCode } } }`;
const checkoutVars = (cartId: string, key: string) => ({
  i: {
    cartId,
    idempotencyKey: key,
    shippingAddress: { name: 'A', line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
  },
});

/** A whole purchase: checkout, card payment on the provider's page, callback, PAID. */
async function buyOnce(): Promise<string> {
  const c = (await checkout(gql(), shop.buyer.token, await newCart(), `co-${hex()}`)).data.checkoutCreate;
  expect(c.__typename).toBe('Checkout');
  const p = (await gql()(PAYMENT_START, { c: c.id, m: 'CARD', k: `pay-${hex()}` }, shop.buyer.token)).data
    .paymentStart;
  expect(p.status).toBe('PENDING');
  expect(await completeOnProviderPage(p.redirectUrl)).toBeLessThan(400);
  await eventually(async () => {
    const [row] = await sql(`select status from payment where id = ${p.id}`);
    return row.status === 'SUCCEEDED';
  }, 20_000);
  return c.id;
}

/** Retries one request until it succeeds: the time from the end of a fault to the first success. */
async function firstSuccessMs(attempt: () => Promise<Timed>, ok: (r: Timed) => boolean): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = await attempt();
    if (ok(r)) return Date.now() - started;
    if (Date.now() - started > 20_000)
      throw new Error(`no success 20 s after the fault: ${JSON.stringify(r)}`);
    await sleep(100);
  }
}

const EXTRA_CHECKS: Record<string, string> = {
  'an order has no lines': `select o.id from shop_order o where not exists (select 1 from order_line l where l.order_id = o.id)`,
  'a checkout idempotency key has no checkout (or a checkout has no key)': `
    select k.key from idempotency_key k left join checkout c on c.id = k.result_ref::bigint
     where k.scope = 'checkout' and c.id is null
    union all
    select c.id::text from checkout c where not exists (select 1 from idempotency_key k where k.scope = 'checkout' and k.result_ref = c.id::text)`,
  'a payment idempotency key has more than one payment, or none': `
    select k.key from idempotency_key k left join payment p on p.id = k.result_ref::bigint
     where k.scope = 'payment' and p.id is null`,
  "an order's events are not numbered 1..n, or event_seq disagrees": `
    select o.id from shop_order o left join order_event e on e.order_id = o.id
     group by o.id, o.event_seq having count(e.id) <> o.event_seq or min(e.seq) <> 1 or max(e.seq) <> count(e.id)`,
  'relay positions are not contiguous': `
    select n, m from (select count(pos) as n, coalesce(max(pos), 0) as m from order_event) x where n <> m`,
};

async function expectInvariants(): Promise<void> {
  const problems = await moneyProblems((q) => sql(q));
  const extra = await moneyProblems((q) => sql(q), EXTRA_CHECKS);
  expect([...problems, ...extra]).toEqual([]);
}

test('setup: a working shop; ready', async () => {
  const admin = await adminToken(gql());
  const m = await createMerchant(gql(), admin);
  const p = await createProduct(gql(), m.token, { variants: [{ price: '10.00', onHand: 1000 }] });
  shop = { buyer: await signUpCustomer(gql()), variantId: p.variantIds[0], admin };
  await buyOnce();
  expect((await readyz()).status).toBe(200);
  await expectInvariants();
});

test('frozen database (SIGSTOP): requests fail within their budget as 503 SERVICE_UNAVAILABLE, /readyz 503 within 2 s; first success within 2 s after', async () => {
  const carts = await Promise.all([newCart(), newCart(), newCart()]);
  const keys = carts.map(() => `co-${hex()}`);
  pg.freeze();
  const frozenAt = Date.now();
  let results: Timed[];
  let probes: { status: number; ms: number; body: any }[];
  try {
    // Waves of requests over the freeze: in flight when it began, and arriving during it.
    const wave = () =>
      Promise.all([
        ...carts.map((c, i) => post(CHECKOUT_MUTATION, checkoutVars(c, keys[i]), shop.buyer.token)),
        post(`{ products(first: 5) { totalCount } }`),
      ]);
    const probing = (async () => {
      const out: { status: number; ms: number; body: any }[] = [];
      while (Date.now() - frozenAt < 5_000) {
        out.push(await readyz());
        await sleep(300);
      }
      return out;
    })();
    const waves = [wave(), sleep(2_000).then(wave), sleep(4_000).then(wave)];
    results = (await Promise.all(waves)).flat();
    probes = await probing;
    const left = 6_000 - (Date.now() - frozenAt);
    if (left > 0) await sleep(left);
  } finally {
    pg.thaw();
  }
  const thawedAt = Date.now();
  figures.freezeMs = thawedAt - frozenAt;
  figures.freezeRequestMs = results.map((r) => r.ms).sort((a, b) => a - b);
  figures.freezeReadyzMs = probes.map((p) => p.ms).sort((a, b) => a - b);

  for (const r of results) {
    expect(unavailable(r) ? 'SERVICE_UNAVAILABLE' : r).toBe('SERVICE_UNAVAILABLE');
    expect(r.ms).toBeLessThan(BUDGET_MS + MARGIN_MS);
  }
  expect(probes.length).toBeGreaterThan(1);
  for (const p of probes) {
    expect(p.status).toBe(503);
    expect(p.ms).toBeLessThan(2_000);
  }

  // The same checkout, retried with the same key, succeeds right after, on the same process.
  const recovery = await firstSuccessMs(
    () => post(CHECKOUT_MUTATION, checkoutVars(carts[0], keys[0]), shop.buyer.token),
    (r) => r.status === 200 && r.body.data?.checkoutCreate?.__typename === 'Checkout',
  );
  figures.freezeFirstSuccessMs = recovery;
  expect(recovery).toBeLessThan(2_000 + MARGIN_MS);
  expect((await readyz()).status).toBe(200);
  // Retried with the same keys, every checkout exists once.
  for (let i = 0; i < carts.length; i++) {
    const a = await post(CHECKOUT_MUTATION, checkoutVars(carts[i], keys[i]), shop.buyer.token);
    const b = await post(CHECKOUT_MUTATION, checkoutVars(carts[i], keys[i]), shop.buyer.token);
    expect(a.body.data.checkoutCreate.id).toBe(b.body.data.checkoutCreate.id);
  }
  await buyOnce();
  expect(server.running()).toBe(true);
  await expectInvariants();
}, 60_000);

test('read-only database: /readyz 503 "read-only", writes 503 SERVICE_UNAVAILABLE, reads still served', async () => {
  await pg.setReadOnly(true);
  try {
    const ready = await readyz();
    figures.readOnlyReadyzMs = ready.ms;
    expect(ready).toMatchObject({ status: 503, body: { check: 'read-only' } });
    expect(ready.ms).toBeLessThan(2_000);
    const write = await post(
      CHECKOUT_MUTATION,
      checkoutVars(await newCart().catch(() => '1'), `co-${hex()}`),
      shop.buyer.token,
    );
    expect(unavailable(write)).toBe(true);
    expect(write.body.errors[0].extensions.reason).toBe('read-only');
    const read = await post(`{ products(first: 5) { totalCount } }`);
    expect(read.status).toBe(200);
    expect(read.body.data.products.totalCount).toBeGreaterThan(0);
  } finally {
    await pg.setReadOnly(false);
  }
  const cart = await newCart();
  const key = `co-${hex()}`;
  figures.readOnlyFirstSuccessMs = await firstSuccessMs(
    () => post(CHECKOUT_MUTATION, checkoutVars(cart, key), shop.buyer.token),
    (r) => r.body.data?.checkoutCreate?.__typename === 'Checkout',
  );
  expect(figures.readOnlyFirstSuccessMs).toBeLessThan(2_000 + MARGIN_MS);
  expect((await readyz()).status).toBe(200);
  await expectInvariants();
});

test('a table lock held elsewhere: lock_timeout, 503 SERVICE_UNAVAILABLE at once, success when released', async () => {
  const cart = await newCart();
  const key = `co-${hex()}`;
  const release = await pg.lockTable(db, 'stock_reservation');
  let r: Timed;
  try {
    r = await post(CHECKOUT_MUTATION, checkoutVars(cart, key), shop.buyer.token);
  } finally {
    await release();
  }
  figures.lockTimeoutRequestMs = r.ms;
  expect(unavailable(r)).toBe(true);
  expect(r.body.errors[0].extensions.reason).toBe('lock-timeout');
  expect(r.ms).toBeLessThan(500 + MARGIN_MS);
  const ok = await post(CHECKOUT_MUTATION, checkoutVars(cart, key), shop.buyer.token);
  expect(ok.body.data.checkoutCreate.__typename).toBe('Checkout');
  await expectInvariants();
});

test('database restart: 503 while it is down, first success within 2 s of it accepting connections', async () => {
  await pg.stop('fast');
  const down = await post(`{ products(first: 5) { totalCount } }`);
  const ready = await readyz();
  await pg.start();
  const back = Date.now();
  figures.restartDownRequestMs = down.ms;
  expect(unavailable(down)).toBe(true);
  expect(down.ms).toBeLessThan(BUDGET_MS + MARGIN_MS);
  expect(ready.status).toBe(503);
  expect(ready.ms).toBeLessThan(2_000);
  const cart = await newCart().catch(() => null);
  figures.restartFirstSuccessMs = Date.now() - back;
  expect(cart).not.toBeNull();
  expect(Date.now() - back).toBeLessThan(2_000 + MARGIN_MS);
  await buyOnce();
  await expectInvariants();
});

test('Redis stopped: the server keeps serving; events are delayed, not lost', async () => {
  const [{ before }] = await sql<{ before: string }>('select published_pos as before from outbox_relay');
  await redis.stop();
  let orderId: string;
  try {
    orderId = await buyOnce(); // checkout, payment, callback: all still served
    expect((await readyz()).status).toBe(200);
  } finally {
    await redis.start();
  }
  // The relay catches up once Redis is back: every event numbered and published.
  await eventually(async () => {
    const [r] = await sql<{ published: string; numbered: string; pending: number }>(
      `select (select published_pos from outbox_relay) as published, (select coalesce(max(pos), 0) from order_event) as numbered,
              (select count(*)::int from order_event where pos is null) as pending`,
    );
    return r.pending === 0 && r.published === r.numbered && Number(r.published) > Number(before);
  }, 30_000);
  const [{ n }] = await sql<{ n: number }>(
    `select count(*)::int as n from order_event e join shop_order o on o.id = e.order_id where o.checkout_id = ${orderId!}`,
  );
  expect(n).toBeGreaterThanOrEqual(2); // created, paid
  await expectInvariants();
}, 60_000);
