import { claimKeyFrom } from '../../shared/idempotency';
import { customerCapsLockFrom } from './checkout.caps';

/**
 * The reads that start a checkout, shared with the benchmark's raw-driver baseline so both run
 * exactly the same SQL. The write is the order store's (order.store.ts, WRITE_CHECKOUT_SQL).
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
 *
 * Before either the key or the cart is locked, the statement takes the customer's checkout-caps
 * lock (checkout.caps.ts): both the claim and the cart's row lock wait for it, so every checkout
 * takes its locks in one order (caps, key, cart) and the checkout write, a later statement, counts
 * the customer's unpaid checkouts after any concurrent one has committed.
 */
export const CLAIM_AND_READ_CART_SQL = `with caps_lock as materialized (
         ${customerCapsLockFrom('$2')}
       ), claim as (
         ${claimKeyFrom({ callerId: '$2', scope: 'checkout', key: '$3', requestHash: '$4', resultRefSql: '(select next_order_id($2)::text from caps_lock)' })}
       )
       ${CART_READ_SQL.replace(
         'select c.id as cart_id,',
         'select (select result_ref from claim) as claimed_ref, c.id as cart_id,',
       ).replace('where c.id = $1', 'where c.id = $1 and exists (select 1 from caps_lock)')}`;

/** The variant and product a flash sale sells, for its order lines and snapshot ($1 variant). */
export const FLASH_SALE_VARIANT_SQL = `select v.id as variant_id, v.sku, v.title as variant_title, v.attributes, v.merchant_id, v.price,
                  p.id as product_id, p.title as product_title, p.description, p.images, p.collections, p.category_id
             from variant v join product p on p.id = v.product_id where v.id = $1`;
