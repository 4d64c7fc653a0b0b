import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll, sqlPrepared } from '../../db/sql';
import { convertCartFrom } from '../cart/cart.store';
import { insertOrderEventsFrom } from '../events/order-events.sql';
import { insertReservationsFrom } from '../inventory/inventory.store';
import type { PricedGroup } from '../pricing/pricing';
import type { OrderStatus } from './order.lifecycle';

/**
 * The order store: the only code that writes `checkout`, `shop_order` and `order_line`. Other
 * modules call these functions inside their own transaction. Where one statement writes the
 * tables of several modules (the checkout write), each owner supplies its part as a fragment
 * (inventory: reservations, events: the outbox rows, cart: its conversion), so the text that
 * writes a table stays in its owner's folder; test/unit/table-owners.test.ts keeps it so.
 */

/**
 * An order row as stored (amounts in minor units, bigint columns as text). It stays in the store
 * files: whatever reads `shop_order` rows (or their copies: `archive.shop_order`, `seller_order`)
 * converts them with `orderFromRow`, and the rest of the code sees `Order` records.
 */
export interface OrderRow {
  id: string;
  checkout_id: string;
  buyer_id: string;
  merchant_id: string;
  status: OrderStatus;
  subtotal: string;
  discount: string;
  points_discount: string;
  points_used: number;
  shipping_fee: string;
  total: string;
  shipping_address: Record<string, string | null>;
  payment_deadline: Date | null;
  cancel_reason: string | null;
  version: number;
  event_seq: number;
  delivered_at: Date | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * OrderRow's columns, for statements that name them rather than `o.*`: a prepared statement's
 * answer must keep its shape when a migration adds a column while servers run (PostgreSQL refuses
 * a cached plan whose result type changed). The seller-side store's copy has the same columns.
 */
export const ORDER_COLUMNS = [
  'id',
  'checkout_id',
  'buyer_id',
  'merchant_id',
  'status',
  'subtotal',
  'discount',
  'points_discount',
  'points_used',
  'shipping_fee',
  'total',
  'shipping_address',
  'payment_deadline',
  'cancel_reason',
  'version',
  'event_seq',
  'delivered_at',
  'completed_at',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof OrderRow)[];

/** An order: a merchant's part of a checkout (amounts in minor units). */
export interface Order {
  id: string;
  checkoutId: string;
  buyerId: string;
  merchantId: string;
  status: OrderStatus;
  subtotal: number;
  discount: number;
  pointsDiscount: number;
  pointsUsed: number;
  shippingFee: number;
  total: number;
  shippingAddress: Record<string, string | null>;
  paymentDeadline: Date | null;
  cancelReason: string | null;
  version: number;
  eventSeq: number;
  deliveredAt: Date | null;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** An order row as an `Order` record: the one place where order rows are converted. */
export function orderFromRow(r: OrderRow): Order {
  return {
    id: String(r.id),
    checkoutId: String(r.checkout_id),
    buyerId: String(r.buyer_id),
    merchantId: String(r.merchant_id),
    status: r.status,
    subtotal: Number(r.subtotal),
    discount: Number(r.discount),
    pointsDiscount: Number(r.points_discount),
    pointsUsed: r.points_used,
    shippingFee: Number(r.shipping_fee),
    total: Number(r.total),
    shippingAddress: r.shipping_address,
    paymentDeadline: r.payment_deadline,
    cancelReason: r.cancel_reason,
    version: r.version,
    eventSeq: r.event_seq,
    deliveredAt: r.delivered_at,
    completedAt: r.completed_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

// ------------------------------------------------------------------ the checkout write

/** One order of a new checkout: a merchant's group of the priced cart, without its lines (minor units). */
export type NewOrder = Omit<PricedGroup, 'lines'>;

/** One line of a new order, as sold (its snapshot is stored apart, by digest). */
export interface NewOrderLine {
  merchantId: string;
  variantId: string;
  productId: string;
  sku: string;
  title: string;
  attributes: { name: string; value: string }[];
  /** A StockPolicy; RESERVE_ON_ORDER lines get a stock reservation until the deadline. */
  stockPolicy: string;
  quantity: number;
  unitPrice: number;
  subtotal: number;
  discount: number;
  pointsDiscount: number;
  total: number;
  snapshotDigest: string;
}

/** Everything the checkout write stores: the checkout, one order per merchant, their lines. */
export interface NewCheckout {
  checkoutId: string;
  buyerId: string;
  cartId: string;
  subtotal: number;
  discount: number;
  pointsDiscount: number;
  pointsUsed: number;
  shippingFee: number;
  total: number;
  couponCode: string | null;
  shippingAddress: object;
  paymentDeadline: Date;
  orders: NewOrder[];
  lines: NewOrderLine[];
}

/**
 * The per-customer caps a checkout must fit (checkout.caps.ts): the write happens only while the
 * customer's unpaid checkouts are fewer than `maxUnpaid` and their held units, with `newUnits`,
 * stay within `maxHeldUnits` (`newUnits` 0: no unit cap).
 */
export interface CheckoutGuard {
  maxUnpaid: number;
  maxHeldUnits: number;
  newUnits: number;
}

/**
 * Writes the checkout, one order per merchant, the order lines, the reservations of
 * RESERVE_ON_ORDER lines and the orders' first events, and marks the cart converted; returns the
 * orders (the reply shows them without reading them again). Data-modifying CTEs: one round trip,
 * and the foreign keys are checked at the end of the statement. The values travel as JSON
 * documents read with named, typed columns ($1 the checkout, $2 its orders, $3 their lines, $4 the
 * guard).
 *
 * The guard: the statement first counts the buyer's unpaid checkouts and the units they hold, and
 * writes nothing when the new one does not fit (`CheckoutGuard`); every row then carries the
 * counts, and a single row with no order says the checkout was refused. The caller holds the
 * customer's caps lock since an earlier statement, so this count sees every concurrent checkout
 * of the customer that committed before it.
 *
 * Shared with the benchmark's raw-driver baseline (bench/money-path.ts, bench/checkout.ts).
 */
export const WRITE_CHECKOUT_SQL = `with input as (
         select * from jsonb_to_record($1::jsonb) as c(id bigint, buyer_id bigint, cart_id text, subtotal bigint, discount bigint, points_discount bigint,
                                                        points_used int, shipping_fee bigint, total bigint, coupon_code text, shipping_address jsonb, payment_deadline timestamptz)
       ), held as (
         select count(distinct o.checkout_id)::int as checkouts,
                coalesce(sum(l.quantity) filter (where l.stock_policy <> 'DEDUCT_ON_PAYMENT'), 0)::int as units
           from shop_order o
           left join order_line l on l.order_id = o.id
          where o.buyer_id = (select buyer_id from input) and o.status = 'PENDING_PAYMENT' and o.payment_deadline > now()
       ), fits as (
         select 1 from held, jsonb_to_record($4::jsonb) as g(max_unpaid int, max_held_units int, new_units int)
          where held.checkouts < g.max_unpaid and (g.new_units = 0 or held.units + g.new_units <= g.max_held_units)
       ), checkout_row as (
         insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, coupon_code, shipping_address, payment_deadline)
         select c.id, c.buyer_id, c.cart_id, c.subtotal, c.discount, c.points_discount, c.points_used, c.shipping_fee, c.total, c.coupon_code, c.shipping_address, c.payment_deadline
           from input c where exists (select 1 from fits)
         returning id, buyer_id, cart_id, shipping_address, payment_deadline
       ), orders as (
         insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline, event_seq)
         select next_order_id(c.buyer_id), c.id, c.buyer_id, o.merchant_id, 'PENDING_PAYMENT', o.subtotal, o.discount, o.points_discount, o.points_used, o.shipping_fee, o.total,
                c.shipping_address, c.payment_deadline, 1
           from checkout_row c,
                jsonb_to_recordset($2::jsonb) as o(merchant_id bigint, subtotal bigint, discount bigint, points_discount bigint, points_used int, shipping_fee bigint, total bigint)
         returning *
       ), lines as (
         insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy, quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
         select o.id, o.buyer_id, l.variant_id, l.product_id, l.sku, l.title, l.attributes, l.stock_policy, l.quantity, l.unit_price, l.subtotal, l.discount, l.points_discount, l.total, l.snapshot_digest
           from jsonb_array_elements($3::jsonb) with ordinality as e(line, n)
           cross join lateral jsonb_to_record(e.line) as l(merchant_id bigint, variant_id bigint, product_id bigint, sku text, title text, attributes jsonb, stock_policy text,
                                                   quantity int, unit_price bigint, subtotal bigint, discount bigint, points_discount bigint, total bigint, snapshot_digest text)
           join orders o on o.merchant_id = l.merchant_id
          order by e.n -- line ids follow the cart's order (lists show lines by id)
         returning order_id, variant_id, stock_policy, quantity
       ), reservations as (
         ${insertReservationsFrom(
           `select variant_id, order_id, quantity, (select payment_deadline from checkout_row) from lines where stock_policy = 'RESERVE_ON_ORDER'`,
         )}
       ), events as (
         ${insertOrderEventsFrom(`select id, buyer_id, merchant_id, 1, 'STATUS_CHANGED', 'PENDING_PAYMENT' from orders`)}
       ), converted as (
         ${convertCartFrom('(select cart_id from checkout_row)')}
       )
       select h.checkouts as held_checkouts, h.units as held_units, ${ORDER_COLUMNS.map((c) => `o.${c}`).join(', ')}
         from held h left join orders o on true
        order by o.id`;

/** WRITE_CHECKOUT_SQL's parameters: the named columns of its JSON documents. */
export function writeCheckoutParams(c: NewCheckout, guard: CheckoutGuard): [string, string, string, string] {
  return [
    JSON.stringify({
      id: c.checkoutId,
      buyer_id: c.buyerId,
      cart_id: c.cartId,
      subtotal: c.subtotal,
      discount: c.discount,
      points_discount: c.pointsDiscount,
      points_used: c.pointsUsed,
      shipping_fee: c.shippingFee,
      total: c.total,
      coupon_code: c.couponCode,
      shipping_address: c.shippingAddress,
      payment_deadline: c.paymentDeadline.toISOString(),
    }),
    JSON.stringify(
      c.orders.map((o) => ({
        merchant_id: o.merchantId,
        subtotal: o.subtotal,
        discount: o.discount,
        points_discount: o.pointsDiscount,
        points_used: o.pointsUsed,
        shipping_fee: o.shippingFee,
        total: o.total,
      })),
    ),
    JSON.stringify(
      c.lines.map((l) => ({
        merchant_id: l.merchantId,
        variant_id: l.variantId,
        product_id: l.productId,
        sku: l.sku,
        title: l.title,
        attributes: l.attributes,
        stock_policy: l.stockPolicy,
        quantity: l.quantity,
        unit_price: l.unitPrice,
        subtotal: l.subtotal,
        discount: l.discount,
        points_discount: l.pointsDiscount,
        total: l.total,
        snapshot_digest: l.snapshotDigest,
      })),
    ),
    JSON.stringify({
      max_unpaid: guard.maxUnpaid,
      max_held_units: guard.maxHeldUnits,
      new_units: guard.newUnits,
    }),
  ];
}

/** The checkout write's outcome: the new orders, or none when the guard refused the checkout. */
export type CheckoutWritten =
  { written: true; orders: Order[] } | { written: false; held: { checkouts: number; units: number } };

/**
 * Writes a new checkout in the caller's transaction when it fits the guard (see
 * WRITE_CHECKOUT_SQL); the caller has called `markEventsWritten()`.
 */
export async function writeCheckout(
  tx: EntityManager,
  c: NewCheckout,
  guard: CheckoutGuard,
): Promise<CheckoutWritten> {
  const rows = await sqlPrepared<OrderRow & { held_checkouts: number; held_units: number }>(
    tx,
    WRITE_CHECKOUT_SQL,
    writeCheckoutParams(c, guard),
  );
  if (rows[0].id === null) {
    return { written: false, held: { checkouts: rows[0].held_checkouts, units: rows[0].held_units } };
  }
  return { written: true, orders: rows.map(orderFromRow) };
}

// ------------------------------------------------------------------ flash-sale orders

/**
 * Writes one checkout with one order of one line per flash-sale entry, and the orders' first
 * events, for a whole batch of entries in one statement. The shipping address is the buyer's last
 * one (flashSaleEnter asks for none), else the placeholder $14. Returns the ids in input order.
 */
const WRITE_FLASH_SALE_CHECKOUTS_SQL = `with input as (
         select * from unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) with ordinality as u(buyer, q, subtotal, discount, ship, total, n)
       ), ids as materialized (
         select u.*, next_order_id(u.buyer) as checkout_id, next_order_id(u.buyer) as order_id,
                coalesce((select c.shipping_address from checkout c where c.buyer_id = u.buyer order by c.id desc limit 1), $14::jsonb) as addr
           from input u
       ), checkouts as (
         insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, coupon_code, shipping_address, payment_deadline)
         select checkout_id, buyer, null, subtotal, discount, 0, 0, ship, total, null, addr, $7 from ids
       ), orders as (
         insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline, event_seq)
         select order_id, checkout_id, buyer, $8, 'PENDING_PAYMENT', subtotal, discount, 0, 0, ship, total, addr, $7, 1 from ids
       ), lines as (
         insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy, quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
         select order_id, buyer, $9, $10, $11, $12, $13::jsonb, 'RESERVE_ON_ORDER', q, $15, subtotal, discount, 0, subtotal - discount, $16 from ids
       ), events as (
         ${insertOrderEventsFrom(`select order_id, buyer, $8, 1, 'STATUS_CHANGED', 'PENDING_PAYMENT' from ids`)}
       )
       select checkout_id::text, order_id::text from ids order by n`;

/** A batch of flash-sale orders: one checkout of one order of one line per buyer. */
export interface NewFlashSaleOrders {
  buyers: {
    buyerId: string;
    quantity: number;
    subtotal: number;
    discount: number;
    shippingFee: number;
    total: number;
  }[];
  paymentDeadline: Date;
  merchantId: string;
  variantId: string;
  productId: string;
  sku: string;
  title: string;
  attributes: { name: string; value: string }[];
  /** Where the goods go when the buyer has no earlier checkout to take an address from. */
  placeholderAddress: object;
  unitPrice: number;
  snapshotDigest: string;
}

/** Writes a batch of flash-sale orders (the caller has called `markEventsWritten()`); ids in input order. */
export async function writeFlashSaleOrders(
  tx: EntityManager,
  b: NewFlashSaleOrders,
): Promise<{ checkoutId: string; orderId: string }[]> {
  const rows = await sqlAll<{ checkout_id: string; order_id: string }>(tx, WRITE_FLASH_SALE_CHECKOUTS_SQL, [
    b.buyers.map((x) => x.buyerId),
    b.buyers.map((x) => x.quantity),
    b.buyers.map((x) => x.subtotal),
    b.buyers.map((x) => x.discount),
    b.buyers.map((x) => x.shippingFee),
    b.buyers.map((x) => x.total),
    b.paymentDeadline,
    b.merchantId,
    b.variantId,
    b.productId,
    b.sku,
    b.title,
    JSON.stringify(b.attributes),
    JSON.stringify(b.placeholderAddress),
    b.unitPrice,
    b.snapshotDigest,
  ]);
  return rows.map((r) => ({ checkoutId: String(r.checkout_id), orderId: String(r.order_id) }));
}

// ------------------------------------------------------------------ events and payment

/**
 * Takes an order's next event number: the UPDATE takes the order row's lock, so the events of one
 * order are numbered in commit order whatever runs concurrently. Null when there is no such order.
 */
export async function takeNextEventSeq(
  tx: EntityManager,
  orderId: string,
): Promise<{ buyerId: string; merchantId: string; status: string; seq: number } | null> {
  const [row] = await sqlAll<{ buyer_id: string; merchant_id: string; status: string; event_seq: number }>(
    tx,
    'update shop_order set event_seq = event_seq + 1 where id = $1 returning buyer_id, merchant_id, status, event_seq',
    [orderId],
  );
  return row
    ? { buyerId: row.buyer_id, merchantId: row.merchant_id, status: row.status, seq: row.event_seq }
    : null;
}

/**
 * Orders of a settled payment move to PAID, as a CTE body of the balance settlement: only from
 * PENDING_PAYMENT (a cancellation that won leaves the order), each taking its next event number.
 * `orderIds` is an SQL expression of a bigint[]. Returns (id, buyer_id, merchant_id, event_seq).
 */
export const payOrdersFrom = (orderIds: string): string =>
  `update shop_order set status = 'PAID', version = version + 1, event_seq = event_seq + 1, updated_at = now()
    where id = any(${orderIds}) and status = 'PENDING_PAYMENT'
   returning id, buyer_id, merchant_id, event_seq`;
