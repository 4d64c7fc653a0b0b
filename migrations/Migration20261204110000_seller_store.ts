import { Migration } from '@mikro-orm/migrations';

/**
 * The seller-side store (docs/seller-store.md): a copy of every order and order event keyed by
 * merchant, kept up to date from the outbox by one consumer with a cursor, so merchant order lists
 * and shop event replays read one merchant's rows instead of scanning the buyer-keyed tables.
 * In a distributed deployment these are the tables distributed by merchant_id (docs/scaling.md).
 */
export class Migration20261204110000_seller_store extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
-- Same columns and meaning as shop_order, plus whether the order has moved to cold storage.
create table seller_order (
  merchant_id bigint not null,
  id bigint not null,
  checkout_id bigint not null,
  buyer_id bigint not null,
  status text not null,
  subtotal bigint not null,
  discount bigint not null,
  points_discount bigint not null,
  points_used integer not null,
  shipping_fee bigint not null,
  total bigint not null,
  shipping_address jsonb not null,
  payment_deadline timestamptz,
  cancel_reason text,
  version integer not null,
  event_seq integer not null,
  delivered_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  archived boolean not null default false,
  -- Order ids are time-ordered: (merchant_id, id) is also (merchant_id, placement time).
  primary key (merchant_id, id)
);
create index seller_order_created_idx on seller_order (merchant_id, created_at);
create index seller_order_status_idx on seller_order (merchant_id, status, id);

-- The shop's events, numbered by the relay's publication position (order_event.pos).
create table seller_order_event (
  merchant_id bigint not null,
  pos bigint not null,
  id bigint not null,
  order_id bigint not null,
  buyer_id bigint not null,
  seq integer not null,
  type text not null,
  status text not null,
  shipment_id bigint,
  after_sale_id bigint,
  payload jsonb,
  created_at timestamptz not null,
  primary key (merchant_id, pos)
);

-- The last outbox position applied to the two tables above, moved in the same transaction as
-- the rows; 0: nothing yet, so the first pass applies the whole history.
create table seller_store_cursor (
  id integer primary key default 1 check (id = 1),
  position bigint not null default 0
);
insert into seller_store_cursor (position) values (0);

-- An order leaves shop_order only when it moves to cold storage (docs/archive.md); its copy here
-- stays, flagged, in the moving transaction, so merchant lists keep serving it on request.
create function seller_order_archived() returns trigger language plpgsql as $$
begin
  update seller_order set archived = true where merchant_id = old.merchant_id and id = old.id;
  return null;
end $$;
create trigger seller_order_archived after delete on shop_order
  for each row execute function seller_order_archived();
`);
  }
}
