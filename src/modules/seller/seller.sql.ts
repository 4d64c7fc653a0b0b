import { ORDER_COLUMNS as ORDER_ROW_COLUMNS } from '../order/order.store';

/**
 * The SQL of the seller-side store. `seller_order` mirrors `shop_order` column for column (plus
 * `archived`); `seller_order_event` mirrors the numbered rows of `order_event`.
 */

/** The columns `seller_order` shares with `shop_order` (an OrderRow, read as an `Order` with `orderFromRow`). */
export const ORDER_COLUMNS = ORDER_ROW_COLUMNS.join(', ');

/** The columns `seller_order_event` shares with `order_event` (an OrderEventRow). */
export const EVENT_COLUMNS = [
  'merchant_id',
  'pos',
  'id',
  'order_id',
  'buyer_id',
  'seq',
  'type',
  'status',
  'shipment_id',
  'after_sale_id',
  'payload',
  'created_at',
].join(', ');

const UPDATED = ORDER_COLUMNS.split(', ')
  .filter((c) => c !== 'id' && c !== 'merchant_id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

/**
 * Applies the next events after the cursor ($1, at most $2 of them): each event's order is copied
 * as it is now in `shop_order` (so the copy of an order with several events in the batch is
 * written once, in its latest state), and the events are copied. Idempotent on its own, too: an
 * order row only moves forward (`event_seq` never decreases) and an event is inserted once by
 * its position. Returns how many events it applied and the last position.
 */
export const APPLY_SQL = `
  with ev as (
    select ${EVENT_COLUMNS} from order_event where pos > $1 order by pos limit $2
  ),
  orders as (
    insert into seller_order (${ORDER_COLUMNS})
    select ${ORDER_COLUMNS} from shop_order where id in (select order_id from ev)
    on conflict (merchant_id, id) do update set ${UPDATED}
      where seller_order.event_seq <= excluded.event_seq
  ),
  events as (
    insert into seller_order_event (${EVENT_COLUMNS})
    select ${EVENT_COLUMNS} from ev
    on conflict (merchant_id, pos) do nothing
  )
  select count(*)::int as events, max(pos)::text as last from ev`;

/**
 * The events of one merchant ($1) committed but not yet in the store (at most $2 of their ids):
 * not numbered by the relay yet, or numbered after the cursor.
 */
export const UNAPPLIED_SQL = `
  select id::text from order_event
   where merchant_id = $1 and (pos is null or pos > (select position from seller_store_cursor))
   limit $2`;

/** How many of the events $1 are still not in the store. */
export const STILL_UNAPPLIED_SQL = `
  select count(*)::int as n from order_event
   where id = any($1::bigint[]) and (pos is null or pos > (select position from seller_store_cursor))`;

/**
 * A shop's events after position $2, at most $3, oldest first: from the store up to its cursor,
 * and the few after it (numbered by the relay, not applied yet) from the outbox, in one snapshot,
 * so a replay never misses an event the relay has already published live.
 */
export const SHOP_EVENTS_SQL = `
  with c as (select position from seller_store_cursor)
  select * from (
    (select ${EVENT_COLUMNS} from seller_order_event
      where merchant_id = $1 and pos > $2 and pos <= (select position from c) order by pos limit $3)
    union all
    (select ${EVENT_COLUMNS} from order_event
      where merchant_id = $1 and pos > greatest($2, (select position from c)) order by pos limit $3)
  ) x order by pos limit $3`;
