import { Migration } from '@mikro-orm/migrations';

/**
 * After-sale requests (refund only, return and refund, exchange) and the order lines they claim.
 * Rules and lifecycle: src/modules/aftersale/aftersale.state.ts.
 */
export class Migration20261130020000_after_sale extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table after_sale (
  -- next_order_id(buyer_id): time-ordered and on the buyer's shard, like the order it belongs to
  id bigint primary key,
  order_id bigint not null references shop_order(id),
  buyer_id bigint not null,
  merchant_id bigint not null,
  type text not null check (type in ('REFUND_ONLY', 'RETURN_AND_REFUND', 'EXCHANGE')),
  status text not null default 'REQUESTED'
    check (status in ('REQUESTED', 'APPROVED', 'REJECTED', 'RETURN_SHIPPED', 'RECEIVED', 'REFUNDED', 'EXCHANGE_SHIPPED', 'COMPLETED', 'CANCELLED')),
  reason text not null check (length(reason) between 1 and 500),
  review_deadline timestamptz not null,
  -- the merchant's decision; reviewed_by is null when the deadline approved it
  reviewed_at timestamptz,
  reviewed_by bigint,
  review_note text,
  return_address jsonb,
  -- refund types: the expected refund until it is paid, then what was refunded
  refund_amount bigint check (refund_amount >= 0),
  refund_id bigint references refund(id),
  -- returned units went back to stock (exactly once)
  restocked_at timestamptz,
  return_shipment_id bigint references shipment(id),
  exchange_shipment_id bigint references shipment(id),
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index after_sale_order_idx on after_sale (order_id, id);
create index after_sale_merchant_idx on after_sale (merchant_id, id desc);
create index after_sale_review_due_idx on after_sale (review_deadline) where status = 'REQUESTED';
create index after_sale_exchange_open_idx on after_sale (exchange_shipment_id) where status = 'EXCHANGE_SHIPPED';

create table after_sale_line (
  after_sale_id bigint not null references after_sale(id),
  order_line_id bigint not null references order_line(id),
  buyer_id bigint not null,
  quantity integer not null check (quantity > 0),
  -- this line's prorated share of the refund, set when refunded
  refund_amount bigint check (refund_amount >= 0),
  primary key (after_sale_id, order_line_id)
);
create index after_sale_line_order_line_idx on after_sale_line (order_line_id);

alter table shipment add constraint shipment_after_sale_fk foreign key (after_sale_id) references after_sale(id);
`);
  }
}
