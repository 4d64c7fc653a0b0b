import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Client } from 'pg';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../src/db/sql';
import { ArchiveService } from '../../src/modules/archive/archive.service';
import { adminToken, createMerchant, createProduct, signIn, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { subscribe, wsClient } from '../support/ws';

/**
 * The seller-side store (issue 14, item 3): after a randomized history of checkouts, payments,
 * cancellations and shipments, applied at random moments, the store equals the source; merchant
 * lists are right at every moment (read-after-write), from the store; a rebuild from scratch and
 * a crash between applying and recording the cursor both end equal to the source; shop replays
 * read the store and miss nothing it has not applied yet.
 */

type User = { token: string; id: string };
type Merchant = { id: string; token: string; userId: string };

const uid = () => randomBytes(4).toString('hex');
const LIST = `query($f: OrderFilter, $n: Int, $a: String) { orders(filter: $f, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id status version total { amount } updatedAt } } } }`;
const SHIP = `mutation($o: ID!, $t: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $t) { __typename } }`;

let t: TestApp;
let admin: string;
let shops: Merchant[];
let variants: { id: string; shop: number }[];
let buyers: User[];
const orders: { id: string; buyer: User; shop: number }[] = [];
const checkouts: { id: string; buyer: User }[] = [];

const em = () => t.app.orm.em.fork() as unknown as EntityManager;
const sql = (q: string, p: unknown[] = []) => sqlAll<any>(em(), q, p);
const projector = () => t.app.services.sellerProjector;
const apply = () => projector().applyAll(em());

const ORDER_COLS = `id::text, merchant_id::text, checkout_id::text, buyer_id::text, status, subtotal::text,
  discount::text, points_discount::text, points_used, shipping_fee::text, total::text, shipping_address,
  payment_deadline, cancel_reason, version, event_seq, delivered_at, completed_at, created_at, updated_at`;
const EVENT_COLS = `merchant_id::text, pos::text, id::text, order_id::text, buyer_id::text, seq, type, status,
  shipment_id::text, after_sale_id::text, payload, created_at`;

/** The store holds exactly the source: every order row, and every event up to its cursor. */
async function expectStoreEqualsSource(label: string) {
  const [{ position }] = await sql('select position::text from seller_store_cursor');
  const [source, store, sourceEvents, storeEvents] = await Promise.all([
    sql(`select ${ORDER_COLS} from shop_order order by id`),
    sql(`select ${ORDER_COLS} from seller_order order by id`),
    sql(`select ${EVENT_COLS} from order_event where pos <= $1 order by pos`, [position]),
    sql(`select ${EVENT_COLS} from seller_order_event order by pos`),
  ]);
  expect({ label, orders: store }).toEqual({ label, orders: source });
  expect({ label, events: storeEvents }).toEqual({ label, events: sourceEvents });
  // ...and the cursor is the end of the outbox once applied.
  const [{ last }] = await sql('select coalesce(max(pos), 0)::text as last from order_event');
  return { position, last };
}

/** What a merchant must see: the shop's orders and the ones its user bought, newest first. */
async function expectListsRight(label: string) {
  for (const s of shops) {
    const want = await sql(
      `select id::text, status, version from shop_order where merchant_id = $1 or buyer_id = $2 order by id desc`,
      [s.id, s.userId],
    );
    const got: any[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await t.gql(LIST, { n: 7, a: after }, s.token);
      expect(r.errors).toBeUndefined();
      expect(r.data.orders.totalCount).toBe(want.length);
      got.push(...r.data.orders.edges.map((e: any) => e.node));
      if (!r.data.orders.pageInfo.hasNextPage) break;
      after = r.data.orders.pageInfo.endCursor;
    }
    expect({ label, got: got.map((o) => ({ id: o.id, status: o.status, version: o.version })) }).toEqual({
      label,
      got: want,
    });
  }
}

async function richCustomer(): Promise<User> {
  const c = await signUpCustomer(t.gql);
  const r = await t.gql(
    `mutation { accountTopUp(amount: "5000.00", idempotencyKey: "top") { ... on Payment { redirectUrl } } }`,
    {},
    c.token,
  );
  expect(await completeOnProviderPage(r.data.accountTopUp.redirectUrl)).toBe(303);
  await eventually(async () => {
    const b = await t.gql(`{ viewer { account { balance { amount } } } }`, {}, c.token);
    return b.data.viewer.account.balance.amount === '5000.00';
  });
  return c;
}

beforeAll(async () => {
  // Roles are changed by SQL below: no cached copy of the user's row (docs/security.md).
  t = await startTestApp({
    SELLER_STORE_INTERVAL_MS: '3600000',
    EVENT_RELAY_POLL_MS: '200',
    TOKEN_STATE_CACHE_MS: '0',
  });
  // The test applies the store itself, at random moments (and reads make it catch up).
  await projector().stop();
  admin = await adminToken(t.gql);
  shops = [];
  for (let i = 0; i < 2; i++) {
    const m = await createMerchant(t.gql, admin);
    const [{ id }] = await sql('select id::text from app_user where merchant_id = $1', [m.id]);
    shops.push({ ...m, userId: id });
  }
  variants = [];
  for (const [i, shop] of shops.entries()) {
    const p = await createProduct(t.gql, shop.token, { variants: [{ onHand: 10_000, price: '4.50' }] });
    variants.push({ id: p.variantIds[0], shop: i });
  }
  buyers = [await richCustomer(), await richCustomer()];
  // A merchant's user who is also a customer buys from the other shop: its list shows that order
  // too (as it did before the store).
  const [owner] = await sql(
    `update app_user set roles = roles || '{CUSTOMER}' where merchant_id = $1 returning email`,
    [shops[0].id],
  );
  shops[0].token = await signIn(t.gql, owner.email, 'owner-password');
  const cart = await createCart(t.gql, [{ variantId: variants[1].id, quantity: 1 }], shops[0].token);
  const co = (await checkout(t.gql, shops[0].token, cart, `co-${uid()}`)).data.checkoutCreate;
  expect(co.__typename).toBe('Checkout');
  orders.push({ id: co.orders[0].id, buyer: { token: shops[0].token, id: shops[0].userId }, shop: 1 });
});

afterAll(() => t?.stop());

const action = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('checkout' as const),
      buyer: fc.nat(1),
      lines: fc.subarray([0, 1], { minLength: 1 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('pay' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('ship' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('apply' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('list' as const) }), weight: 1 },
);
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

async function run(a: Action): Promise<void> {
  if (a.kind === 'checkout') {
    const buyer = buyers[a.buyer];
    const cart = await createCart(
      t.gql,
      a.lines.map((i) => ({ variantId: variants[i].id, quantity: 1 })),
      buyer.token,
    );
    const res = await checkout(t.gql, buyer.token, cart, `co-${uid()}`);
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    const co = res.data.checkoutCreate;
    expect(co.__typename).toBe('Checkout');
    checkouts.push({ id: co.id, buyer });
    for (const o of co.orders)
      orders.push({ id: o.id, buyer, shop: shops.findIndex((s) => s.id === o.merchant.id) });
  } else if (a.kind === 'pay' && checkouts.length) {
    const c = checkouts[a.pick % checkouts.length];
    // Paying again, or a cancelled checkout, is an expected failure: the history goes on.
    await t.gql(PAYMENT_START, { c: c.id, m: 'BALANCE', k: `pay-${c.id}` }, c.buyer.token);
  } else if (a.kind === 'cancel' && orders.length) {
    const o = orders[a.pick % orders.length];
    await t.gql(`mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`, { o: o.id }, o.buyer.token);
  } else if (a.kind === 'ship' && orders.length) {
    const o = orders[a.pick % orders.length];
    await t.gql(SHIP, { o: o.id, t: `T${uid()}` }, shops[o.shop].token);
  } else if (a.kind === 'apply') {
    await apply();
  } else if (a.kind === 'list') {
    await expectListsRight('mid-history');
  }
}

test('after a randomized history the store equals the source; lists are right at every moment', async () => {
  const fallbacks = t.app.services.sellerStore.fallbacks;
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 4, maxLength: 12 }), async (actions) => {
      for (const a of actions) await run(a);
      // Not applied by anyone but the reads: the merchant still sees every change at once.
      await expectListsRight('after the history');
      await apply();
      const { position, last } = await expectStoreEqualsSource('applied');
      expect(position).toBe(last);
    }),
    { numRuns: 4 },
  );
  expect(orders.length).toBeGreaterThan(0);
  // Every list above was served by the store (it caught up in time), none by the source.
  expect(t.app.services.sellerStore.fallbacks).toBe(fallbacks);
  // Filters and pages agree with the source too.
  const shop = shops[0];
  const paid = await t.gql(LIST, { f: { status: ['PAID', 'SHIPPED'] }, n: 50 }, shop.token);
  const [{ n }] = await sql(
    `select count(*)::int as n from shop_order where merchant_id = $1 and status in ('PAID', 'SHIPPED')`,
    [shop.id],
  );
  expect(paid.data.orders.totalCount).toBe(n);
});

test('a merchant sees its own write at once, whoever applies the store', async () => {
  await apply();
  const buyer = buyers[0];
  // A new order of shop 1, then the merchant lists: it is there, in the store, without a pass by anyone else.
  const cart = await createCart(t.gql, [{ variantId: variants[1].id, quantity: 1 }], buyer.token);
  const co = (await checkout(t.gql, buyer.token, cart, `co-${uid()}`)).data.checkoutCreate;
  const fresh = await t.gql(LIST, { n: 1 }, shops[1].token);
  expect(fresh.data.orders.edges[0].node).toMatchObject({ id: co.orders[0].id, status: 'PENDING_PAYMENT' });
  const [{ n }] = await sql('select count(*)::int as n from seller_order where id = $1', [co.orders[0].id]);
  expect(n).toBe(1);
  // The buyer pays, then the merchant ships (its own write): each shows at once.
  const paid = await t.gql(PAYMENT_START, { c: co.id, m: 'BALANCE', k: `pay-${co.id}` }, buyer.token);
  expect(paid.data.paymentStart.__typename).toBe('Payment');
  expect((await t.gql(LIST, { n: 1 }, shops[1].token)).data.orders.edges[0].node.status).toBe('PAID');
  const ship = await t.gql(SHIP, { o: co.orders[0].id, t: `T${uid()}` }, shops[1].token);
  expect(ship.data.orderShip.__typename).toBe('Shipment');
  const shipped = await t.gql(LIST, { n: 1 }, shops[1].token);
  expect(shipped.data.orders.edges[0].node).toMatchObject({ id: co.orders[0].id, status: 'SHIPPED' });
});

test('when the store cannot catch up in time, the list is read from the source (still right)', async () => {
  // Another session holds the cursor (a pass stuck mid-transaction): the store cannot move.
  const holder = new Client({ connectionString: t.app.config.databaseUrl });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query('select position from seller_store_cursor for update');
    const before = t.app.services.sellerStore.fallbacks;
    const cart = await createCart(t.gql, [{ variantId: variants[0].id, quantity: 1 }], buyers[0].token);
    const co = (await checkout(t.gql, buyers[0].token, cart, `co-${uid()}`)).data.checkoutCreate;
    const started = Date.now();
    const r = await t.gql(LIST, { n: 1 }, shops[0].token);
    expect(r.data.orders.edges[0].node.id).toBe(co.orders[0].id);
    expect(t.app.services.sellerStore.fallbacks).toBe(before + 1);
    // Bounded: SELLER_STORE_READ_WAIT_MS (1 s by default), with a margin for a loaded machine.
    expect(Date.now() - started).toBeLessThan(8000);
    // Operators see it: the fallbacks, and the events waiting for the store.
    const metrics = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toContain(`seller_store_read_fallbacks ${before + 1}`);
    expect(Number(/seller_store_lag_events (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
});

test('a crash between applying and recording the cursor leaves the store as it was; the next pass makes it equal', async () => {
  await apply();
  const cart = await createCart(t.gql, [{ variantId: variants[0].id, quantity: 2 }], buyers[1].token);
  const co = (await checkout(t.gql, buyers[1].token, cart, `co-${uid()}`)).data.checkoutCreate;
  await t.gql(
    `mutation($o: ID!) { orderCancel(orderId: $o) { __typename } }`,
    { o: co.orders[0].id },
    buyers[1].token,
  );
  await eventually(async () => {
    const [{ n }] = await sql(`select count(*)::int as n from order_event where pos is null`);
    return n === 0;
  });
  const snapshot = async () => ({
    cursor: await sql('select position::text from seller_store_cursor'),
    orders: await sql(`select ${ORDER_COLS} from seller_order order by id`),
    events: await sql(`select ${EVENT_COLS} from seller_order_event order by pos`),
  });
  const before = await snapshot();
  // The session dies after the apply statement, before the cursor moves (a process killed there).
  projector().beforeAck = async (tx) => {
    await sqlAll(tx, 'select pg_terminate_backend(pg_backend_pid())');
  };
  try {
    await expect(apply()).rejects.toThrow();
  } finally {
    projector().beforeAck = undefined;
  }
  expect(await snapshot()).toEqual(before);
  expect(before.orders.find((o: any) => o.id === co.orders[0].id)).toBeUndefined();
  expect(await apply()).toBeGreaterThan(0);
  const { position, last } = await expectStoreEqualsSource('after the crash');
  expect(position).toBe(last);
  // Applying again changes nothing: each event once.
  expect(await apply()).toBe(0);
  await expectStoreEqualsSource('applied twice');
});

test('a rebuild from scratch (the command) equals the source, and the consumer continues from it', async () => {
  await apply();
  // Damage the store: a lost row, a wrong row, a lost event.
  await sql(`delete from seller_order where id = (select min(id) from seller_order)`);
  await sql(
    `update seller_order set status = 'COMPLETED', total = 1 where id = (select max(id) from seller_order)`,
  );
  await sql(`delete from seller_order_event where pos = (select min(pos) from seller_order_event)`);
  const script = join(__dirname, '../../dist/scripts/seller-store-rebuild.js');
  if (existsSync(script)) {
    const r = spawnSync(process.execPath, [script], {
      env: { ...process.env, DATABASE_URL: t.app.config.databaseUrl, LOG_LEVEL: 'error', NODE_ENV: 'test' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/seller store rebuilt: \d+ orders, \d+ events/);
  } else {
    // `npm test` builds first; a bare jest run rebuilds in-process.
    await projector().rebuild(em());
  }
  const { position, last } = await expectStoreEqualsSource('rebuilt');
  expect(position).toBe(last);
  // History goes on after the rebuild: the consumer applies from the rebuilt position.
  await run({ kind: 'checkout', buyer: 0, lines: [0, 1] });
  await run({ kind: 'pay', pick: checkouts.length - 1 });
  await eventually(async () => (await sql(`select 1 from order_event where pos is null`)).length === 0);
  expect(await apply()).toBeGreaterThan(0);
  await expectStoreEqualsSource('rebuilt, then applied');
  await expectListsRight('rebuilt');
});

test('a shop replay reads the store, and the events it has not applied yet from the outbox', async () => {
  await apply();
  const shop = shops[0];
  const [first] = await sql(
    `select id::text from order_event where merchant_id = $1 and pos is not null order by pos limit 1`,
    [shop.id],
  );
  // New events the store has not applied (nobody runs a pass here).
  await run({ kind: 'checkout', buyer: 1, lines: [0] });
  await eventually(async () => (await sql(`select 1 from order_event where pos is null`)).length === 0);
  const want = (
    await sql(
      `select id::text from order_event where merchant_id = $1 and pos > (select pos from order_event where id = $2) order by pos`,
      [shop.id, first.id],
    )
  ).map((r: any) => r.id);
  const [{ behind }] = await sql(
    `select count(*)::int as behind from order_event where merchant_id = $1 and pos > (select position from seller_store_cursor)`,
    [shop.id],
  );
  expect(behind).toBeGreaterThan(0);
  const client = wsClient(t.url, shop.token);
  try {
    const sub = subscribe(
      client,
      `subscription($a: ID) { merchantOrderEvents(after: $a) { id orderId type status } }`,
      { a: first.id },
      (d: any) => d.merchantOrderEvents,
    );
    const got = await sub.waitFor(want.length);
    expect(got.map((e: any) => e.id)).toEqual(want);
    sub.stop();
  } finally {
    await client.dispose();
  }
});

test('an order moved to cold storage stays in the store, flagged: left out only when includeArchived is false', async () => {
  await run({ kind: 'checkout', buyer: 0, lines: [1] });
  const moved = orders.at(-1)!.id;
  await eventually(async () => (await sql(`select 1 from order_event where pos is null`)).length === 0);
  await apply();
  // Finished (cancelled) and then moved by the real archive job (docs/archive.md), once the store
  // has applied its events (the job waits for every outbox consumer).
  await run({ kind: 'cancel', pick: orders.length - 1 });
  await eventually(async () => (await sql(`select 1 from order_event where pos is null`)).length === 0);
  await apply();
  const archive = new ArchiveService({ afterSeconds: 0.001, batchSize: 100, batchPauseMs: 0 });
  await eventually(async () => {
    await archive.archiveDue(em());
    return (await sql('select 1 from archive.shop_order where id = $1', [moved])).length === 1;
  });
  const [row] = await sql('select archived from seller_order where id = $1', [moved]);
  expect(row).toEqual({ archived: true });
  const ids = async (f: object) =>
    (await t.gql(LIST, { f, n: 100 }, shops[1].token)).data.orders.edges.map((e: any) => e.node.id);
  expect(await ids({ includeArchived: false })).not.toContain(moved);
  expect(await ids({ includeArchived: true })).toContain(moved);
  expect(await ids({})).toContain(moved); // the contract's default
  // A rebuild reads the archive too: the order is still there, still flagged.
  await projector().rebuild(em());
  expect(await sql('select archived from seller_order where id = $1', [moved])).toEqual([{ archived: true }]);
  expect(await ids({ includeArchived: true })).toContain(moved);
});
