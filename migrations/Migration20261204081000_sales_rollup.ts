import { Migration } from '@mikro-orm/migrations';

/**
 * Sales figures: per merchant and hour of placement (the clock in the order id, hours since
 * 2026-01-01 UTC), kept up to date from the order events by a consumer with a cursor; refunds are
 * added in the refund's own transaction.
 */
export class Migration20261204081000_sales_rollup extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table sales_rollup (
  merchant_id bigint not null,
  hour integer not null,
  orders integer not null default 0,
  gross bigint not null default 0,
  refunded bigint not null default 0,
  primary key (merchant_id, hour)
);
create index sales_rollup_hour_idx on sales_rollup (hour);

create table sales_rollup_status (
  merchant_id bigint not null,
  hour integer not null,
  status text not null,
  orders integer not null,
  primary key (merchant_id, hour, status)
);
create index sales_rollup_status_hour_idx on sales_rollup_status (hour);

-- The last event position (order_event.pos) folded into the rollup; 0: none yet, so the first
-- pass folds in the whole history.
create table sales_rollup_cursor (
  id integer primary key default 1 check (id = 1),
  position bigint not null default 0
);
insert into sales_rollup_cursor (position) values (0);

-- Refunds made before this migration (later ones are added in the refund's transaction).
insert into sales_rollup (merchant_id, hour, refunded)
select o.merchant_id, ((o.id >> 22) / 3600000)::int, sum(r.amount)
  from refund r join shop_order o on o.id = r.order_id
 where o.status in ('PAID', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'REFUNDED')
 group by 1, 2;
`);
  }
}
