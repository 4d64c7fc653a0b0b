/**
 * Old, finished orders made in bulk with SQL (generate_series), for the archive benchmark and the
 * archive crash test: each order has one line and one order event; completed ones also a delivered
 * shipment with one tracking event. They belong to an existing buyer, merchant, checkout and
 * variant, are dated `ageSeconds` ago (one millisecond apart, so their ids are unique and
 * time-ordered like real ones), and their events carry negative publication positions — published
 * before the outbox relay's positions began — so every outbox consumer has seen them.
 * Statuses rotate: 6 of 10 COMPLETED, 3 CANCELLED, 1 REFUNDED (`cancelledOnly`: all CANCELLED,
 * which needs no payment or ledger rows to satisfy the money invariants).
 */
export interface OldOrdersSpec {
  count: number;
  buyerId: string;
  merchantId: string;
  checkoutId: string;
  variantId: string;
  productId: string;
  ageSeconds: number;
  /** Shifts the dates so that several calls make distinct ids (use a different one per call). */
  offsetMs?: number;
  cancelledOnly?: boolean;
}

type Exec = (sql: string, params?: unknown[]) => Promise<any>;

export type Owners = Pick<OldOrdersSpec, 'buyerId' | 'merchantId' | 'checkoutId' | 'variantId' | 'productId'>;

/** A merchant, a product with a variant, a buyer, a cart and a checkout for old orders to belong to. */
export async function insertOwners(exec: Exec, tag: string): Promise<Owners> {
  const rows = await exec(
    `with m as (insert into merchant (name) values ('Old shop ' || $1::text) returning id),
          u as (insert into app_user (email, password_hash, name) values ('old-' || $1::text || '@test.local', 'x', 'Old buyer') returning id),
          p as (insert into product (merchant_id, title, description) select id, 'Old product', 'Sold long ago' from m returning id, merchant_id),
          v as (insert into variant (product_id, merchant_id, sku, title, price) select id, merchant_id, 'OLD-' || $1::text, 'Default', 1000 from p returning id, product_id, merchant_id),
          c as (insert into cart (id, customer_id, status) select 'old-' || $1::text, id, 'CONVERTED' from u returning id, customer_id),
          co as (insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline)
                 select next_order_id(customer_id), customer_id, id, 0, 0, 0, 0, 0, 0, '{}', now() from c returning id, buyer_id)
     select co.buyer_id::text as "buyerId", v.merchant_id::text as "merchantId", co.id::text as "checkoutId",
            v.id::text as "variantId", v.product_id::text as "productId" from co, v`,
    [tag],
  );
  return (rows.rows ?? rows)[0];
}

export async function insertOldOrders(exec: Exec, s: OldOrdersSpec): Promise<void> {
  const status = s.cancelledOnly
    ? `'CANCELLED'`
    : `case when g % 10 < 6 then 'COMPLETED' when g % 10 < 9 then 'CANCELLED' else 'REFUNDED' end`;
  await exec(
    `with params as (select $1::int as n, $2::bigint as buyer, $3::bigint as merchant, $4::bigint as checkout,
                            $5::bigint as variant, $6::bigint as product, $7::int as age, $8::bigint as offset_ms),
     base as (
       select g, ${status} as status,
              now() - make_interval(secs => p.age) - make_interval(secs => (p.offset_ms + g) / 1000.0) as ts, p.*
         from params p, generate_series(1, (select n from params)) g),
     ids as (
       select b.*, ((floor(extract(epoch from b.ts) * 1000)::bigint - 1767225600000) << 22)
                   | ((b.buyer % 1024) << 12) | (b.g % 4096) as id
         from base b),
     o as (
       insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount,
                               points_used, shipping_fee, total, shipping_address, version, event_seq,
                               delivered_at, completed_at, cancel_reason, created_at, updated_at)
       select id, checkout, buyer, merchant, status, 1000, 0, 0, 0, 0, 1000,
              '{"name":"Old Buyer","line1":"1 Main St","city":"Berlin","postalCode":"10115","country":"DE"}',
              2, 1, case when status = 'COMPLETED' then ts end, case when status = 'COMPLETED' then ts end,
              case when status = 'CANCELLED' then 'payment window expired' end, ts, ts
         from ids returning id),
     l as (
       insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy,
                               quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
       select id, buyer, variant, product, 'OLD-SKU', 'Old product', '[]', 'RESERVE_ON_ORDER', 1, 1000, 1000, 0, 0, 1000,
              'old-digest'
         from ids returning 1),
     e as (
       insert into order_event (order_id, buyer_id, merchant_id, seq, type, status, created_at, pos)
       select id, buyer, merchant, 1, 'STATUS_CHANGED', status, ts, -id from ids returning 1),
     s as (
       insert into shipment (order_id, buyer_id, merchant_id, kind, carrier, tracking_number, status, status_at,
                             created_at, updated_at)
       select id, buyer, merchant, 'ORDER', 'DHL', 'OLD' || id, 'DELIVERED', ts, ts, ts
         from ids where status = 'COMPLETED' returning id, status_at)
     insert into tracking_event (shipment_id, event_id, status, occurred_at, received_at)
     select id, 'old-' || id, 'DELIVERED', status_at, status_at from s`,
    [s.count, s.buyerId, s.merchantId, s.checkoutId, s.variantId, s.productId, s.ageSeconds, s.offsetMs ?? 0],
  );
}
