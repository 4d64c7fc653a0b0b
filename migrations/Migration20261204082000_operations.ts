import { Migration } from '@mikro-orm/migrations';

/**
 * No silent failures: how an admin resolved a refund that needed attention, the index that lists
 * those refunds, and cursors of the operations sweeps.
 */
export class Migration20261204082000_operations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table refund
  add column resolution text check (resolution in ('TO_BALANCE', 'REFUNDED_OUTSIDE')),
  add column resolved_by bigint,
  add column resolved_at timestamptz,
  add column resolution_note text;
create index refund_attention_idx on refund (updated_at) where status = 'NEEDS_ATTENTION';

-- Where a sweep has got to (the snapshot sweep: the last order id whose lines it checked).
create table ops_cursor (
  name text primary key,
  position bigint not null default 0
);

-- The "paid, not shipped" metric and alert read paid orders by age.
create index shop_order_paid_idx on shop_order (updated_at) where status = 'PAID';
`);
  }
}
