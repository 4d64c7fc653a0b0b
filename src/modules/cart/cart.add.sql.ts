/**
 * Adding lines to a cart in one statement (cartCreate): every line is checked (the variant exists,
 * the line's new quantity is within the per-line limit and available now, the cart stays within
 * its line limit) and only when all pass are the lines written; the statement returns what the
 * checks found, so the caller can name the first failure, and the cart's lines as they are now,
 * priced from the catalog, for the reply. Shared with the benchmark's raw-driver baseline.
 *
 * $1 cart id, $2 variant ids (0 for an id that names nothing), $3 quantities to add,
 * $4 the per-line quantity limit, $5 the cart's line limit.
 */
const addLines = (target: { before?: string; after?: string; touch: boolean }) => `with ${target.before ?? ''}
 input as (
   select * from unnest($2::bigint[], $3::int[]) with ordinality as u(variant_id, quantity, n)
 ), existing as (
   select cl.id, cl.variant_id, cl.quantity from cart_line cl where cl.cart_id = $1
 ), checked as (
   select i.n, i.variant_id, v.id is not null as found,
          coalesce(e.quantity, 0) + i.quantity as quantity,
          greatest(v.on_hand - v.reserved - v.sold, 0) as available
     from input i left join variant v on v.id = i.variant_id left join existing e on e.variant_id = i.variant_id
 ), verdict as (
   select coalesce(bool_and(found and quantity <= $4 and available >= quantity), true)
          and (select count(*) from (select variant_id from existing union select variant_id from input) x) <= $5 as ok
     from checked
 ), ${target.after ?? ''}
 written as (
   insert into cart_line (cart_id, variant_id, quantity)
   select t.id, k.variant_id, k.quantity from target t, checked k, verdict where verdict.ok
    order by k.n
   on conflict (cart_id, variant_id) do update set quantity = excluded.quantity
   returning id, variant_id, quantity
 ), touched as (
   update cart set updated_at = now() where ${target.touch ? 'id = $1 and (select ok from verdict)' : 'false'}
 ), now_lines as (
   select id, variant_id, quantity from written
   union all
   select e.id, e.variant_id, e.quantity from existing e where not exists (select 1 from input i where i.variant_id = e.variant_id)
 )
 select (select ok from verdict) as ok, now() as updated_at,
        (select json_agg(json_build_object('n', n, 'found', found, 'quantity', quantity, 'available', available) order by n)
           from checked) as checks,
        (select json_agg(json_build_object('id', l.id::text, 'variant_id', l.variant_id::text, 'quantity', l.quantity,
                                           'price', v.price::text, 'merchant_id', v.merchant_id::text, 'collections', p.collections)
                         order by l.id)
           from now_lines l join variant v on v.id = l.variant_id join product p on p.id = v.product_id) as lines`;

/** A new anonymous cart ($1 its id) with its lines, in one statement: nothing is written unless every line passes. */
export const NEW_CART_SQL = addLines({
  after: `target as (insert into cart (id) select $1 where (select ok from verdict) returning id),`,
  touch: false,
});

/** Lines added to an existing cart ($1), which the caller has locked in this transaction. */
export const ADD_LINES_SQL = addLines({ before: `target as (select $1::text as id),`, touch: true });

/** A customer's active cart ($1 a new id, $2 the customer), created when missing, and locked. */
export const CUSTOMER_CART_SQL = `insert into cart (id, customer_id) values ($1, $2)
   on conflict (customer_id) where status = 'ACTIVE' do update set updated_at = cart.updated_at
   returning id, customer_id, coupon_code, updated_at`;
