import { randomBytes } from 'node:crypto';
import type { TestApp } from '../support/app';
import type { Gql } from '../support/client';
import { Role } from '../../src/modules/identity/user.entity';
import { completeOnProviderPage, PAYMENT_START } from './payments';

/** Flash-sale builders and the invariants every flash-sale test checks. */

export const SALE_FIELDS = `id quantity remaining perCustomerLimit price { amount } startsAt endsAt variant { id sku }`;
export const ENTRY_FIELDS = `id status position quantity checkout { id total { amount } paymentDeadline }`;
export const ENTER = `mutation($s: ID!, $q: Int!, $k: String!) { flashSaleEnter(flashSaleId: $s, quantity: $q, idempotencyKey: $k) {
  __typename ... on FlashSaleEntry { ${ENTRY_FIELDS} }
  ... on OutOfStockError { errorCode available } ... on ErrorResult { errorCode message } } }`;

export async function createSale(
  gql: Gql,
  token: string,
  input: {
    variantId: string;
    price?: string;
    quantity: number;
    perCustomerLimit?: number;
    startsAt?: Date;
    endsAt?: Date;
  },
): Promise<{ id: string; quantity: number; remaining: number }> {
  const r = await gql(
    `mutation($i: FlashSaleCreateInput!) { flashSaleCreate(input: $i) { ${SALE_FIELDS} } }`,
    {
      i: {
        variantId: input.variantId,
        price: input.price ?? '5.00',
        quantity: input.quantity,
        perCustomerLimit: input.perCustomerLimit ?? 1,
        startsAt: (input.startsAt ?? new Date(Date.now() - 1000)).toISOString(),
        endsAt: (input.endsAt ?? new Date(Date.now() + 120_000)).toISOString(),
      },
    },
    token,
  );
  if (!r.data?.flashSaleCreate) throw new Error(`flashSaleCreate failed: ${JSON.stringify(r)}`);
  return r.data.flashSaleCreate;
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Customers made in one statement (the crowd needs thousands; sign-up hashes a password each). */
export async function seedCustomers(t: TestApp, n: number): Promise<string[]> {
  const tag = randomBytes(4).toString('hex');
  const rows = (await t.app.orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into app_user (email, password_hash, name) select 'crowd-' || ? || '-' || g || '@test.local', 'x', 'Crowd ' || g
         from generate_series(1, ?) g returning id`,
      [tag, n],
    )) as { id: string }[];
  return rows.map((r) => String(r.id));
}

export const tokenFor = (t: TestApp, userId: string) =>
  t.app.services.tokens.sign({ userId, roles: [Role.CUSTOMER], merchantId: null });

/** Pays a checkout by card through the API and the provider's hosted page, as a shopper would. */
export async function payCheckout(gql: Gql, token: string, checkoutId: string): Promise<void> {
  const r = await gql(PAYMENT_START, { c: checkoutId, m: 'CARD', k: `pay-${checkoutId}` }, token);
  const url = r.data?.paymentStart?.redirectUrl;
  if (!url) throw new Error(`paymentStart failed: ${JSON.stringify(r)}`);
  await completeOnProviderPage(url);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    range(Math.min(limit, items.length)).map(async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

export async function until<T>(
  check: () => Promise<T | null | undefined | false>,
  ms = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function sqlOf(t: () => TestApp) {
  const sql = async (q: string, params: unknown[] = []) =>
    (await t().app.orm.em.fork().getConnection().execute(q, params)) as any[];
  return { sql, one: async (q: string, params: unknown[] = []) => (await sql(q, params))[0] };
}

/**
 * What must hold at any moment: the variant is not oversold and its `reserved` equals its live
 * reservations; the sale's hold plus the units of its live (pending or paid) orders never exceed
 * the sale's quantity; no customer has more units than the limit; every ORDERED or EXPIRED entry
 * has exactly one order and no order belongs to two entries.
 */
export async function saleInvariants(sql: (q: string, p?: unknown[]) => Promise<any[]>, saleId: string) {
  const [s] = await sql(
    `select s.quantity, s.per_customer_limit, v.on_hand, v.reserved, v.sold,
            (select coalesce(sum(quantity), 0)::int from stock_reservation r where r.variant_id = v.id) as reservations,
            (select coalesce(sum(quantity), 0)::int from stock_reservation r where r.flash_sale_id = s.id and r.order_id is null) as held
       from flash_sale s join variant v on v.id = s.variant_id where s.id = ?`,
    [saleId],
  );
  const orders = await sql(
    `select o.id, o.status, ol.quantity, o.buyer_id from flash_sale_entry e join shop_order o on o.id = e.order_id
       join order_line ol on ol.order_id = o.id where e.flash_sale_id = ?`,
    [saleId],
  );
  const live = orders.filter((o) => o.status !== 'CANCELLED');
  const liveUnits = live.reduce((n, o) => n + Number(o.quantity), 0);
  const [dup] = await sql(
    `select count(*)::int as n from (select order_id from flash_sale_entry where flash_sale_id = ? and order_id is not null group by order_id having count(*) > 1) d`,
    [saleId],
  );
  const [missing] = await sql(
    `select count(*)::int as n from flash_sale_entry e where e.flash_sale_id = ? and e.status in ('ORDERED', 'EXPIRED')
        and (select count(*) from order_line ol where ol.order_id = e.order_id) <> 1`,
    [saleId],
  );
  const [overLimit] = await sql(
    `select count(*)::int as n from (select customer_id from flash_sale_entry where flash_sale_id = ? group by customer_id having sum(quantity) > ?) c`,
    [saleId, s.per_customer_limit],
  );
  expect(s.on_hand - s.reserved - s.sold).toBeGreaterThanOrEqual(0);
  expect(s.reserved).toBe(s.reservations);
  expect(s.held + liveUnits).toBeLessThanOrEqual(s.quantity);
  expect(dup.n).toBe(0);
  expect(missing.n).toBe(0);
  expect(overLimit.n).toBe(0);
  return { ...s, liveOrders: live.length, liveUnits, orders };
}
