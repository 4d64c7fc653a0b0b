import { Migration } from '@mikro-orm/migrations';

/**
 * Hot and cold orders (docs/archive.md): an `archive` schema with one table per table that hangs
 * off an order, the same columns in the same order (`like … including defaults including
 * constraints`, so `select *` of the hot and the archive table line up), but no foreign keys and
 * only the indexes reads need. The archive job (src/modules/archive) moves finished orders there in
 * one transaction per batch and is the only writer of these tables.
 *
 * Payments and refunds stay hot with the ledger, so their references to an order may now point at
 * an archived one: the foreign keys to shop_order become a check that the order exists hot or
 * archived (new rows: hot only; archived orders take no new money), and an order row may only leave
 * shop_order when its copy is in archive.shop_order by the end of the transaction.
 */
export class Migration20261204100000_order_archive extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create schema if not exists archive;

create table archive.shop_order (like public.shop_order including defaults including constraints);
alter table archive.shop_order add primary key (id);
create index archive_shop_order_buyer_idx on archive.shop_order (buyer_id, id desc);
create index archive_shop_order_merchant_idx on archive.shop_order (merchant_id, id desc);
create index archive_shop_order_checkout_idx on archive.shop_order (checkout_id);

create table archive.order_line (like public.order_line including defaults including constraints);
alter table archive.order_line alter column id drop identity if exists;
alter table archive.order_line add primary key (id);
create index archive_order_line_order_idx on archive.order_line (order_id, id);

create table archive.order_event (like public.order_event including defaults including constraints);
alter table archive.order_event alter column id drop identity if exists;
alter table archive.order_event add primary key (id);
create index archive_order_event_order_idx on archive.order_event (order_id, seq);

create table archive.shipment (like public.shipment including defaults including constraints);
alter table archive.shipment alter column id drop identity if exists;
alter table archive.shipment add primary key (id);
create index archive_shipment_order_idx on archive.shipment (order_id);

create table archive.tracking_event (like public.tracking_event including defaults including constraints);
alter table archive.tracking_event alter column id drop identity if exists;
alter table archive.tracking_event add primary key (id);
create index archive_tracking_event_shipment_idx on archive.tracking_event (shipment_id, occurred_at);

create table archive.after_sale (like public.after_sale including defaults including constraints);
alter table archive.after_sale add primary key (id);
create index archive_after_sale_order_idx on archive.after_sale (order_id, id);

create table archive.after_sale_line (like public.after_sale_line including defaults including constraints);
alter table archive.after_sale_line add primary key (after_sale_id, order_line_id);

create table archive.webhook_delivery (like public.webhook_delivery including defaults including constraints);
alter table archive.webhook_delivery alter column id drop identity if exists;
alter table archive.webhook_delivery add primary key (id);
create index archive_webhook_delivery_event_idx on archive.webhook_delivery (event_id);

-- The archive job's candidates: finished orders by the time of their last change.
create index shop_order_finished_idx on shop_order (updated_at)
  where status in ('COMPLETED', 'CANCELLED', 'REFUNDED');
-- Deleting a shipment or an after-sale checks the foreign keys that point at it; without these
-- each check would read all of after_sale or shipment (once per moved row).
create index after_sale_return_shipment_idx on after_sale (return_shipment_id) where return_shipment_id is not null;
create index after_sale_exchange_shipment_idx on after_sale (exchange_shipment_id) where exchange_shipment_id is not null;
create index shipment_after_sale_idx on shipment (after_sale_id) where after_sale_id is not null;

-- Payments and refunds keep pointing at their order wherever it is (hot or archived).
alter table payment_order drop constraint payment_order_order_id_fkey;
alter table refund drop constraint refund_order_id_fkey;

create function order_money_ref_check() returns trigger language plpgsql as $$
begin
  if new.order_id is not null and not exists (select 1 from public.shop_order where id = new.order_id) then
    raise exception 'order % does not exist or is archived (% of an archived order is refused)', new.order_id, tg_table_name
      using errcode = 'foreign_key_violation';
  end if;
  return null;
end $$;
create constraint trigger payment_order_order_exists after insert or update of order_id on payment_order
  for each row execute function order_money_ref_check();
create constraint trigger refund_order_exists after insert or update of order_id on refund
  for each row execute function order_money_ref_check();

-- An order leaves shop_order only into the archive (checked at commit, when the copy is written).
create function order_leaves_into_archive() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from archive.shop_order where id = old.id) then
    raise exception 'order % was deleted without being archived', old.id using errcode = 'foreign_key_violation';
  end if;
  return null;
end $$;
create constraint trigger shop_order_leaves_into_archive after delete on shop_order
  deferrable initially deferred for each row execute function order_leaves_into_archive();
`);
  }
}
