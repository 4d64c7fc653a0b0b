import { randomBytes } from 'node:crypto';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf } from '../support/client';
import { moneyProblems } from '../support/money-invariants';
import { sign } from '../../src/shared/signature';
import { pgArray } from '../../src/db/sql';
import { ArchiveSchemaError, ArchiveService } from '../../src/modules/archive/archive.service';
import { ARCHIVED_TABLES } from '../../src/modules/archive/archive.tables';

/*
 * Hot and cold orders (issue 14, docs/archive.md) through the GraphQL API of the real server:
 * only finished, settled orders move, with every row that hangs off them; `order(id)` reads an
 * archived order exactly as it read it hot; `orders` lists archived orders too unless includeArchived is false;
 * changes of an archived order are refused with ORDER_ARCHIVED; payments and the ledger stay hot
 * and their invariants hold; the schema guard refuses to move when a table would be left behind.
 * The crash test (kill -9 mid-batch) is test/e2e/archive-crash.test.ts.
 */

type Customer = { token: string; id: string };
type Merchant = { id: string; token: string };

let t: TestApp;
let admin: string;
let buyer: Customer;
let other: Customer;
let m: Merchant;
let variant: string;
/** The job as the server runs it, but due after 1 s and 2 orders per batch (several batches). */
const archive = new ArchiveService({ afterSeconds: 1, batchSize: 2, batchPauseMs: 0 });

const uid = () => randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Raw SQL with `?` bindings; an array travels as one PostgreSQL array value. */
const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em
    .fork()
    .getConnection()
    .execute(
      q,
      params.map((p) => (Array.isArray(p) ? pgArray(p) : p)),
    )) as any[];
const em = () => t.app.orm.em.fork() as any;
const gql = (q: string, v: Record<string, unknown> = {}, token?: string) => t.gql(q, v, token);

const ORDER = `query($id: ID!) { order(id: $id) { id status version total { amount } createdAt updatedAt
  buyer { id } merchant { id }
  payment { status amount { amount } refunded { amount } }
  lines { id sku quantity lineTotal { amount } snapshot { digest } }
  shipments { id carrier trackingNumber status events { status location occurredAt } }
  afterSales { id type status refundAmount { amount } lines { orderLineId quantity } }
  history { id type status shipment { id status } afterSale { id status } } } }`;
const LIST = `query($f: OrderFilter, $n: Int, $a: String) { orders(filter: $f, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id status } } } }`;

async function paidOrder(): Promise<{ orderId: string; checkoutId: string; lineId: string }> {
  const cartId = await createCart(t.gql, [{ variantId: variant, quantity: 2 }]);
  const co = (await checkout(t.gql, buyer.token, cartId, `co-${uid()}`)).data.checkoutCreate;
  expect(co.__typename).toBe('Checkout');
  const paid = (await gql(PAYMENT_START, { c: co.id, m: 'BALANCE', k: `pay-${uid()}` }, buyer.token)).data
    .paymentStart;
  expect(paid).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
  const r = await gql(ORDER, { id: co.orders[0].id }, buyer.token);
  if (!r.data?.order) throw new Error(JSON.stringify(r.errors));
  const o = r.data.order;
  return { orderId: o.id, checkoutId: co.id, lineId: o.lines[0].id };
}

async function carrier(trackingNumber: string, status: string) {
  const body = JSON.stringify({
    id: `ev-${uid()}`,
    carrier: 'DHL',
    trackingNumber,
    status,
    location: 'Hub',
    description: status,
    occurredAt: new Date().toISOString(),
  });
  const res = await fetch(t.url.replace(/\/graphql$/, '/webhooks/logistics'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature': sign(t.app.config.logisticsWebhookSecret, body, Date.now() / 1000),
    },
    body,
  });
  expect(res.status).toBe(200);
}

async function deliver(orderId: string) {
  const tracking = `TRK${uid()}`;
  const shipped = await gql(
    `mutation($o: ID!, $n: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $n) { __typename } }`,
    { o: orderId, n: tracking },
    m.token,
  );
  expect(shipped.data.orderShip.__typename).toBe('Shipment');
  await carrier(tracking, 'IN_TRANSIT');
  await carrier(tracking, 'DELIVERED');
}

const confirm = (orderId: string, token = buyer.token) =>
  gql(
    `mutation($o: ID!) { orderConfirmReceipt(orderId: $o) { __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`,
    { o: orderId },
    token,
  );
const requestAfterSale = (orderId: string, lineId: string, token = buyer.token) =>
  gql(
    `mutation($i: AfterSaleRequestInput!) { afterSaleRequest(input: $i) { __typename
      ... on AfterSale { id status } ... on ErrorResult { errorCode message } } }`,
    {
      i: {
        orderId,
        type: 'REFUND_ONLY',
        lines: [{ orderLineId: lineId, quantity: 1 }],
        reason: 'Scratched',
        idempotencyKey: `as-${uid()}`,
      },
    },
    token,
  );
const adminRefund = (orderId: string, amount = '1.00') =>
  gql(
    `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "late", idempotencyKey: $k) {
      __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`,
    { o: orderId, a: amount, k: `rf-${uid()}` },
    admin,
  );
const cancel = (orderId: string, token = buyer.token) =>
  gql(
    `mutation($o: ID!) { orderCancel(orderId: $o) { __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`,
    { o: orderId },
    token,
  );

/** Rows of an order per archived table, in the hot tables and in the archive. */
async function rowsOf(orderIds: string[]): Promise<Record<string, { hot: number; archived: number }>> {
  const out: Record<string, { hot: number; archived: number }> = {};
  for (const schema of ['public', 'archive'] as const) {
    const count = async (q: string) => Number((await sql(q, [orderIds]))[0].n);
    const o = `order_id = any(?::bigint[])`;
    const counts: Record<string, number> = {
      shop_order: await count(`select count(*) n from ${schema}.shop_order where id = any(?::bigint[])`),
      order_line: await count(`select count(*) n from ${schema}.order_line where ${o}`),
      order_event: await count(`select count(*) n from ${schema}.order_event where ${o}`),
      shipment: await count(`select count(*) n from ${schema}.shipment where ${o}`),
      tracking_event: await count(
        `select count(*) n from ${schema}.tracking_event where shipment_id in (select id from ${schema}.shipment where ${o})`,
      ),
      after_sale: await count(`select count(*) n from ${schema}.after_sale where ${o}`),
      after_sale_line: await count(
        `select count(*) n from ${schema}.after_sale_line where after_sale_id in (select id from ${schema}.after_sale where ${o})`,
      ),
    };
    for (const [k, n] of Object.entries(counts)) {
      out[k] ??= { hot: 0, archived: 0 };
      out[k][schema === 'public' ? 'hot' : 'archived'] = n;
    }
  }
  return out;
}

/** Every outbox consumer (relay, webhook dispatch, sales rollup) has seen every event. */
const outboxConsumed = () =>
  eventually(async () => {
    const [r] = await sql(`select (select count(*) from order_event where pos is null
        or pos > least((select published_pos from outbox_relay), (select dispatched_pos from webhook_dispatch),
                       (select position from sales_rollup_cursor)))::int as behind`);
    return r.behind === 0;
  });

beforeAll(async () => {
  t = await startTestApp({
    ARCHIVE_AFTER_DAYS: '0', // the cron job stays off: the test runs the job itself
    SALES_ROLLUP_INTERVAL_MS: '200',
    PLATFORM_FEE_BPS: '1000',
    FREE_SHIPPING_ABOVE: 'none',
  });
  admin = await adminToken(t.gql);
  m = await createMerchant(t.gql, admin);
  variant = (await createProduct(t.gql, m.token, { variants: [{ price: '25.00', onHand: 1000 }] }))
    .variantIds[0];
  const c = await signUpCustomer(t.gql);
  const top = await gql(
    `mutation { accountTopUp(amount: "2000.00", idempotencyKey: "top") { ... on Payment { redirectUrl } } }`,
    {},
    c.token,
  );
  expect(await completeOnProviderPage(top.data.accountTopUp.redirectUrl)).toBe(303);
  await eventually(
    async () =>
      (await gql(`{ viewer { account { balance { amount } } } }`, {}, c.token)).data.viewer.account.balance
        .amount === '2000.00',
  );
  buyer = c;
  other = await signUpCustomer(t.gql);
});
afterAll(() => t?.stop());

describe('finished orders move to the archive with everything that hangs off them', () => {
  const o: Record<string, { orderId: string; checkoutId: string; lineId: string }> = {};
  const before: Record<string, unknown> = {};
  let rowsBefore: Awaited<ReturnType<typeof rowsOf>>;
  let statsBefore: unknown;
  // A range inside the current hours: its figures are recounted from the orders themselves.
  const range = {
    f: new Date(Date.now() - 5 * 60_000).toISOString(),
    t: new Date(Date.now() + 3_600_000).toISOString(),
  };
  const stats = async () =>
    (
      await gql(
        `query($f: DateTime!, $t: DateTime!) { salesStats(from: $f, to: $t) {
          orders gross { amount } refunded { amount } byStatus { status count } } }`,
        range,
        m.token,
      )
    ).data.salesStats;

  beforeAll(async () => {
    // COMPLETED with a shipment, tracking events and a refunded after-sale (a partial refund).
    o.completed = await paidOrder();
    await deliver(o.completed.orderId);
    const as = await requestAfterSale(o.completed.orderId, o.completed.lineId);
    expect(as.data.afterSaleRequest.__typename).toBe('AfterSale');
    const approved = await gql(
      `mutation($id: ID!) { afterSaleReview(id: $id, approve: true) { __typename ... on AfterSale { status } } }`,
      { id: as.data.afterSaleRequest.id },
      m.token,
    );
    expect(approved.data.afterSaleReview).toEqual({ __typename: 'AfterSale', status: 'REFUNDED' });
    expect((await confirm(o.completed.orderId)).data.orderConfirmReceipt.status).toBe('COMPLETED');
    // REFUNDED in full by an admin before shipping.
    o.refunded = await paidOrder();
    expect((await adminRefund(o.refunded.orderId, '54.99')).data.orderRefund).toMatchObject({
      status: 'REFUNDED',
    });
    // CANCELLED before payment.
    const cartId = await createCart(t.gql, [{ variantId: variant, quantity: 1 }]);
    const co = (await checkout(t.gql, buyer.token, cartId, `co-${uid()}`)).data.checkoutCreate;
    o.cancelled = { orderId: co.orders[0].id, checkoutId: co.id, lineId: '' };
    expect((await cancel(o.cancelled.orderId)).data.orderCancel.status).toBe('CANCELLED');
    // Still moving: PAID, and DELIVERED (not finished); COMPLETED with an open after-sale.
    o.paid = await paidOrder();
    o.delivered = await paidOrder();
    await deliver(o.delivered.orderId);
    o.open = await paidOrder();
    await deliver(o.open.orderId);
    expect((await confirm(o.open.orderId)).data.orderConfirmReceipt.status).toBe('COMPLETED');
    expect((await requestAfterSale(o.open.orderId, o.open.lineId)).data.afterSaleRequest.status).toBe(
      'REQUESTED',
    );

    await outboxConsumed();
    for (const [k, v] of Object.entries(o))
      before[k] = (await gql(ORDER, { id: v.orderId }, buyer.token)).data;
    rowsBefore = await rowsOf(Object.values(o).map((v) => v.orderId));
    statsBefore = await stats();
    expect(await moneyProblems(async (q) => sql(q))).toEqual([]);
    await sleep(1100); // older than ARCHIVE_AFTER_SECONDS=1
  });

  test('only finished, settled orders move; each batch moves every row of its orders', async () => {
    expect(rowsBefore.after_sale_line.hot).toBeGreaterThan(0);
    expect(rowsBefore.tracking_event.hot).toBeGreaterThanOrEqual(6);
    const run = await archive.archiveDue(em());
    expect(run.orders).toBe(3);
    expect(run.batches).toBe(2); // 2 orders per batch
    const finished = [o.completed, o.refunded, o.cancelled].map((v) => v.orderId);
    const moving = [o.paid, o.delivered, o.open].map((v) => v.orderId);
    const movedRows = await rowsOf(finished);
    const keptRows = await rowsOf(moving);
    for (const table of Object.keys(rowsBefore)) {
      // nothing lost, nothing twice: every row is in exactly one place
      expect([table, movedRows[table].hot + keptRows[table].hot + movedRows[table].archived]).toEqual([
        table,
        rowsBefore[table].hot,
      ]);
      expect([table, movedRows[table].hot, keptRows[table].archived]).toEqual([table, 0, 0]);
    }
    expect(movedRows.shop_order.archived).toBe(3);
    expect(movedRows.tracking_event.archived).toBeGreaterThanOrEqual(2);
    expect(movedRows.after_sale_line.archived).toBe(1);
    // A second run finds nothing more.
    expect((await archive.archiveDue(em())).orders).toBe(0);
  });

  test('order(id) reads an archived order and its nested fields exactly as it read it hot', async () => {
    for (const k of ['completed', 'refunded', 'cancelled', 'paid', 'open']) {
      const now = (await gql(ORDER, { id: o[k].orderId }, buyer.token)).data;
      expect([k, now]).toEqual([k, before[k]]);
    }
    // The merchant and admins see it too; another buyer does not.
    expect((await gql(ORDER, { id: o.completed.orderId }, m.token)).data.order.id).toBe(o.completed.orderId);
    expect((await gql(ORDER, { id: o.completed.orderId }, admin)).data.order.id).toBe(o.completed.orderId);
    expect((await gql(ORDER, { id: o.completed.orderId }, other.token)).data.order).toBeNull();
    // Sales figures count archived orders as before.
    expect(await stats()).toEqual(statsBefore);
    // The checkout still shows all its orders.
    const co = await gql(
      `query($id: ID!) { checkout(id: $id) { orders { id status } } }`,
      {
        id: o.cancelled.checkoutId,
      },
      buyer.token,
    );
    expect(co.data.checkout.orders).toEqual([{ id: o.cancelled.orderId, status: 'CANCELLED' }]);
  });

  test('orders lists hot and archived orders unless includeArchived is false; pages run across both', async () => {
    // The contract's default is `includeArchived: true`: no filter lists all six.
    expect((await gql(LIST, { n: 100 }, buyer.token)).data.orders.totalCount).toBe(6);
    expect((await gql(LIST, { n: 100, f: { status: null } }, buyer.token)).data.orders.totalCount).toBe(6);
    const hot = (await gql(LIST, { n: 100, f: { includeArchived: false } }, buyer.token)).data.orders;
    const all = [o.completed, o.refunded, o.cancelled, o.paid, o.delivered, o.open].map((v) => v.orderId);
    const hotIds = [o.paid, o.delivered, o.open].map((v) => v.orderId);
    const desc = (ids: string[]) => [...ids].sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1));
    expect(hot.edges.map((e: any) => e.node.id)).toEqual(desc(hotIds));
    expect(hot.totalCount).toBe(3);

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await gql(LIST, { n: 2, a: after, f: { includeArchived: true } }, buyer.token)).data
        .orders;
      expect(page.totalCount).toBe(6);
      seen.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(desc(all));
    // Filters apply to archived orders too.
    const cancelled = (
      await gql(LIST, { n: 100, f: { includeArchived: true, status: ['CANCELLED'] } }, buyer.token)
    ).data.orders;
    expect(cancelled.edges.map((e: any) => e.node.id)).toEqual([o.cancelled.orderId]);
    // The merchant lists the shop's archived orders the same way.
    const shop = (await gql(LIST, { n: 100, f: { includeArchived: true } }, m.token)).data.orders;
    expect(shop.totalCount).toBe(6); // every order here is of this shop
  });

  test('changes of an archived order are refused with ORDER_ARCHIVED; nothing changes', async () => {
    const refundsBefore = await sql('select count(*)::int n from refund');
    const late = await adminRefund(o.completed.orderId);
    expect(late.data.orderRefund).toMatchObject({ __typename: 'UserError', errorCode: 'ORDER_ARCHIVED' });
    const as = await requestAfterSale(o.completed.orderId, o.completed.lineId);
    expect(as.data.afterSaleRequest).toMatchObject({ __typename: 'UserError', errorCode: 'ORDER_ARCHIVED' });
    expect((await cancel(o.cancelled.orderId)).data.orderCancel).toMatchObject({
      errorCode: 'ORDER_ARCHIVED',
    });
    expect((await confirm(o.completed.orderId)).data.orderConfirmReceipt).toMatchObject({
      errorCode: 'ORDER_ARCHIVED',
    });
    // Someone who may not see the order learns nothing: it does not exist for them.
    expect(codeOf(await requestAfterSale(o.completed.orderId, o.completed.lineId, other.token))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(await cancel(o.cancelled.orderId, other.token))).toBe('NOT_FOUND');
    expect(await sql('select count(*)::int n from refund')).toEqual(refundsBefore);
    expect((await gql(ORDER, { id: o.completed.orderId }, buyer.token)).data).toEqual(before.completed);
  });

  test('payments and the ledger stay hot and every money invariant still holds', async () => {
    const ids = [o.completed, o.refunded].map((v) => v.orderId);
    const [po] = await sql('select count(*)::int n from payment_order where order_id = any(?::bigint[])', [
      ids,
    ]);
    expect(po.n).toBe(2);
    const [le] = await sql(`select count(*)::int n from ledger_entry where reference = any(?::text[])`, [
      ids.map((id) => `order:${id}`),
    ]);
    expect(le.n).toBeGreaterThan(0);
    expect(await moneyProblems(async (q) => sql(q))).toEqual([]);
    // New money for an archived order is refused by the database too.
    await expect(
      sql(
        `insert into payment_order (payment_id, order_id, amount) select payment_id, 1, 0 from payment_order limit 1`,
      ),
    ).rejects.toThrow(/does not exist or is archived/);
  });

  test('once the open after-sale is settled and old enough, that order moves too', async () => {
    const [as] = await sql(`select id::text from after_sale where order_id = ? and status = 'REQUESTED'`, [
      o.open.orderId,
    ]);
    const r = await gql(
      `mutation($id: ID!) { afterSaleReview(id: $id, approve: false, note: "no") { __typename ... on AfterSale { status } } }`,
      { id: as.id },
      m.token,
    );
    expect(r.data.afterSaleReview.status).toBe('REJECTED');
    await outboxConsumed();
    expect((await archive.archiveDue(em())).orders).toBe(0); // changed just now
    await sleep(1100);
    expect((await archive.archiveDue(em())).orders).toBe(1);
    expect((await gql(ORDER, { id: o.open.orderId }, buyer.token)).data.order.afterSales[0].status).toBe(
      'REJECTED',
    );
  });
});

describe('the schema guard', () => {
  test('every table that references an archived table is archived with it (or allowed)', async () => {
    // The guard runs before the first batch; a fresh service builds it anew.
    await expect(
      new ArchiveService({ afterSeconds: 1, batchSize: 1, batchPauseMs: 0 }).archiveBatch(em()),
    ).resolves.toBeDefined();
    const refs = await sql(
      `select conrelid::regclass::text as t from pg_constraint where contype = 'f' and confrelid = 'public.shop_order'::regclass`,
    );
    const handled = new Set([...ARCHIVED_TABLES.map((x) => x.name), 'stock_reservation']);
    expect(refs.map((r) => r.t).filter((x) => !handled.has(x))).toEqual([]);
  });

  test('a column added to a hot table but not to its archive table stops the job', async () => {
    await sql('alter table order_line add column gift_note text');
    try {
      const fresh = new ArchiveService({ afterSeconds: 1, batchSize: 1, batchPauseMs: 0 });
      await expect(fresh.archiveBatch(em())).rejects.toThrow(ArchiveSchemaError);
      await expect(fresh.archiveBatch(em())).rejects.toThrow(/archive\.order_line/);
    } finally {
      await sql('alter table order_line drop column gift_note');
    }
  });

  test('an order leaves shop_order only into the archive: a bare delete cannot commit', async () => {
    const cols = `id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used,
      shipping_fee, total, shipping_address, version, created_at, updated_at`;
    const [{ id }] = await sql(
      `insert into shop_order (${cols}) select id + 1, ${cols.slice(4)} from archive.shop_order order by id limit 1
       returning id::text`,
    );
    await expect(sql(`delete from shop_order where id = ?`, [id])).rejects.toThrow(
      /deleted without being archived/,
    );
    expect(await sql(`select 1 from shop_order where id = ?`, [id])).toHaveLength(1);
  });

  test('a hot table referencing an archived one stops the job', async () => {
    await sql('create table gift_wrap (order_id bigint references shop_order(id))');
    try {
      const fresh = new ArchiveService({ afterSeconds: 1, batchSize: 1, batchPauseMs: 0 });
      await expect(fresh.archiveBatch(em())).rejects.toThrow(/gift_wrap\.order_id->shop_order/);
    } finally {
      await sql('drop table gift_wrap');
    }
  });
});
