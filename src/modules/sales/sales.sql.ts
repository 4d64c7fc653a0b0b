/**
 * The SQL of the sales rollup. Orders are placed at the time in their id (bits 62..22: ms since
 * 2026-01-01 UTC), so an hour of placement is an id range and every scan here is an index range.
 */

export const PAID_STATUSES = ['PAID', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'REFUNDED'];

const HOUR_MS = 3_600_000;
/** The rollup's hour of an order id (SQL, for a bigint expression). */
export const hourOf = (idExpr: string) => `((${idExpr} >> 22) / ${HOUR_MS})::int`;

/**
 * What a set of order events (a CTE `ev` with order_id, merchant_id, seq, status) changes in the
 * figures, per merchant and hour: an order's first event adds an order in its status; a later
 * event whose status differs from the one before moves the order from that status to its own;
 * entering a paid status from an unpaid one adds the order's total to gross. Each event is
 * compared with its order's previous event (seq - 1), wherever that one is, so a batch may start
 * or end anywhere in an order's history.
 */
export const DELTA_CTES = `
  deltas as (
    select ev.merchant_id, ${hourOf('ev.order_id')} as hour, ev.seq, ev.status as new_status,
           prev.status as old_status, o.total
      from ev
      join shop_order o on o.id = ev.order_id
      left join order_event prev on prev.order_id = ev.order_id and prev.seq = ev.seq - 1
     where ev.seq = 1 or (prev.status is not null and prev.status <> ev.status)
  ),
  money as (
    select merchant_id, hour, count(*) filter (where seq = 1)::int as orders,
           coalesce(sum(total) filter (
             where new_status = any('{${PAID_STATUSES.join(',')}}'::text[])
               and (seq = 1 or not old_status = any('{${PAID_STATUSES.join(',')}}'::text[]))), 0)::bigint as gross
      from deltas group by merchant_id, hour
  ),
  counts as (
    select merchant_id, hour, status, sum(d)::int as d from (
      select merchant_id, hour, new_status as status, 1 as d from deltas
      union all
      select merchant_id, hour, old_status, -1 from deltas where seq > 1
    ) x group by merchant_id, hour, status having sum(d) <> 0
  )`;

/** Folds the next events after the cursor ($1) into the rollup ($2 at most); returns the last position. */
export const FOLD_SQL = `
  with ev as (
    select e.order_id, e.merchant_id, e.seq, e.status, e.pos from order_event e
     where e.pos > $1 order by e.pos limit $2
  ), ${DELTA_CTES},
  up_money as (
    insert into sales_rollup (merchant_id, hour, orders, gross)
    select merchant_id, hour, orders, gross from money where orders <> 0 or gross <> 0
    on conflict (merchant_id, hour) do update
      set orders = sales_rollup.orders + excluded.orders, gross = sales_rollup.gross + excluded.gross
  ),
  up_counts as (
    insert into sales_rollup_status (merchant_id, hour, status, orders)
    select merchant_id, hour, status, d from counts
    on conflict (merchant_id, hour, status) do update set orders = sales_rollup_status.orders + excluded.orders
  )
  select count(*)::int as events, max(pos)::text as last from ev`;

/** The figures of the rollup for one merchant ($1, or all: null) in whole hours [$2, $3). */
export const ROLLUP_SQL = `
  select coalesce(sum(orders), 0)::bigint as orders, coalesce(sum(gross), 0)::bigint as gross,
         coalesce(sum(refunded), 0)::bigint as refunded
    from sales_rollup where hour >= $2 and hour < $3 and ($1::bigint is null or merchant_id = $1)`;

export const ROLLUP_STATUS_SQL = `
  select status, sum(orders)::bigint as orders from sales_rollup_status
   where hour >= $2 and hour < $3 and ($1::bigint is null or merchant_id = $1)
   group by status`;

/**
 * What the events not yet folded in change for orders of one merchant ($1, or all: null) placed
 * in the id range [$2, $3) (whole hours): the figures include orders placed seconds ago. Driven
 * by the tail (positions after the cursor, and events the relay has not numbered yet).
 */
export const TAIL_SQL = `
  with ev as (
    select e.order_id, e.merchant_id, e.seq, e.status from order_event e
     where e.pos > (select position from sales_rollup_cursor)
       and e.order_id >= $2 and e.order_id < $3 and ($1::bigint is null or e.merchant_id = $1)
    union all
    select e.order_id, e.merchant_id, e.seq, e.status from order_event e
     where e.pos is null
       and e.order_id >= $2 and e.order_id < $3 and ($1::bigint is null or e.merchant_id = $1)
  ), ${DELTA_CTES}
  select 'money' as kind, null as status, coalesce(sum(orders), 0)::bigint as orders, coalesce(sum(gross), 0)::bigint as gross from money
  union all
  select 'status', status, sum(d)::bigint, 0 from counts group by status`;

/** The figures of orders of one merchant ($1, or all: null) placed in the id range [$2, $3), from the orders themselves (the edges of a range). */
export const RECOUNT_SQL = `
  select o.status, count(*)::bigint as orders,
         coalesce(sum(o.total) filter (where o.status = any('{${PAID_STATUSES.join(',')}}'::text[])), 0)::bigint as gross,
         coalesce(sum((select sum(r.amount) from refund r where r.order_id = o.id))
                  filter (where o.status = any('{${PAID_STATUSES.join(',')}}'::text[])), 0)::bigint as refunded
    -- hot and archived orders alike (docs/archive.md)
    from (select id, merchant_id, status, total from shop_order
          union all select id, merchant_id, status, total from archive.shop_order) o
   where o.id >= $2 and o.id < $3 and ($1::bigint is null or o.merchant_id = $1)
   group by o.status`;

/** A refund of a paid order, added in the refund's transaction ($1 merchant, $2 order id, $3 amount). */
export const ADD_REFUND_SQL = `
  insert into sales_rollup (merchant_id, hour, refunded) values ($1, ${hourOf('$2::bigint')}, $3)
  on conflict (merchant_id, hour) do update set refunded = sales_rollup.refunded + excluded.refunded`;
