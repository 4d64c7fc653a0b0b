/**
 * The two statements that do most of a checkout, shared with the benchmark's raw-driver baseline
 * so both run exactly the same SQL.
 */

/** Locks the cart and reads it with its lines, their variants and products, and the buyer's points ($1 cart, $2 buyer). */
export const CART_READ_SQL = `select c.id as cart_id, c.customer_id, c.status, c.coupon_code, (select points from app_user where id = $2) as buyer_points,
                  cl.variant_id, cl.quantity, v.price, v.sku, v.title as variant_title, v.attributes, v.merchant_id,
                  p.id as product_id, p.title as product_title, p.description, p.images, p.collections, p.category_id, p.stock_policy
             from cart c
             left join cart_line cl on cl.cart_id = c.id
             left join variant v on v.id = cl.variant_id
             left join product p on p.id = v.product_id
            where c.id = $1
            order by v.id
              for update of c`;

/**
 * CART_READ_SQL with the idempotency key claimed first, in the same statement ($1 cart, $2 buyer,
 * $3 key, $4 request hash): `claimed_ref` is the new checkout's id, or null when the key was used
 * before (the caller then reads the key's outcome). When the cart does not exist the claim is
 * still made: the caller answers not found and rolls back.
 */
export const CLAIM_AND_READ_CART_SQL = `with claim as (
         insert into idempotency_key (caller_id, scope, key, request_hash, result_ref)
         values ($2, 'checkout', $3, $4, next_order_id($2)::text)
         on conflict do nothing returning result_ref
       )
       ${CART_READ_SQL.replace('select c.id as cart_id,', 'select (select result_ref from claim) as claimed_ref, c.id as cart_id,')}`;

/**
 * Writes the checkout, one order per merchant, the order lines, the reservations of
 * RESERVE_ON_ORDER lines and the orders' first events, and marks the cart converted; returns the
 * orders (the reply shows them without reading them again). Data-modifying CTEs: one round trip,
 * and the foreign keys are checked at the end of the statement.
 */
export const WRITE_CHECKOUT_SQL = `with checkout_row as (
         insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, coupon_code, shipping_address, payment_deadline)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id
       ), orders as (
         insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline, event_seq)
         select next_order_id($2), (select id from checkout_row), $2, m, 'PENDING_PAYMENT', s, d, pd, pu, sf, t, $11, $12, 1
           from unnest($13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::int[], $18::bigint[], $19::bigint[]) as u(m, s, d, pd, pu, sf, t)
         returning *
       ), lines as (
         insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy, quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
         select o.id, $2, v, p, s, t, a, sp, q, up, st, d, pd, tt, dg
           from unnest($20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::text[], $25::jsonb[], $26::text[], $27::int[], $28::bigint[], $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[], $33::text[])
                  as u(m, v, p, s, t, a, sp, q, up, st, d, pd, tt, dg)
           join orders o on o.merchant_id = u.m
         returning order_id, variant_id, stock_policy, quantity
       ), reservations as (
         insert into stock_reservation (variant_id, order_id, quantity, expires_at)
         select variant_id, order_id, quantity, $12 from lines where stock_policy = 'RESERVE_ON_ORDER'
       ), events as (
         insert into order_event (order_id, buyer_id, merchant_id, seq, type, status)
         select id, $2, merchant_id, 1, 'STATUS_CHANGED', 'PENDING_PAYMENT' from orders
       ), converted as (
         update cart set status = 'CONVERTED', updated_at = now() where id = $3
       )
       select * from orders order by id`;

/** The variant and product a flash sale sells, for its order lines and snapshot ($1 variant). */
export const FLASH_SALE_VARIANT_SQL = `select v.id as variant_id, v.sku, v.title as variant_title, v.attributes, v.merchant_id, v.price,
                  p.id as product_id, p.title as product_title, p.description, p.images, p.collections, p.category_id
             from variant v join product p on p.id = v.product_id where v.id = $1`;

/**
 * Writes one checkout with one order of one line per flash-sale entry, and the orders' first
 * events, for a whole batch of entries in one statement. The shipping address is the buyer's last
 * one (flashSaleEnter asks for none), else the placeholder $14. Returns the ids in input order.
 */
export const WRITE_FLASH_SALE_CHECKOUTS_SQL = `with input as (
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
         insert into order_event (order_id, buyer_id, merchant_id, seq, type, status)
         select order_id, buyer, $8, 1, 'STATUS_CHANGED', 'PENDING_PAYMENT' from ids
       )
       select checkout_id::text, order_id::text from ids order by n`;
