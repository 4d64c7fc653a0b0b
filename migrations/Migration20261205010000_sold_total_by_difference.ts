import { Migration } from '@mikro-orm/migrations';

/**
 * Product aggregates (units sold, price range, in stock, attribute pairs) that are cheap on a sale
 * and exact under concurrency.
 *
 * 1. A sale no longer recomputes its product's aggregates. Every paid order moves its variants'
 *    reservations to `sold`, and the variant trigger rebuilt the whole product row for it (the
 *    attribute pairs from every variant's jsonb, the price range, the stock flag, the units sold):
 *    about 3.7 ms of PostgreSQL per payment, a fifth of the database's work on the money path
 *    (docs/money-path.md). When only `sold` changed (price, attributes and the in-stock flag as
 *    they were), `sold_total` moves by the difference: one row update, which concurrent sales
 *    apply one after the other on the row's latest version.
 * 2. A rebuild locks the product rows first and computes after the lock. It used to compute in the
 *    same statement that waited for the lock, from a snapshot taken before the wait, so two
 *    transactions changing two variants of one product at once could each store a sum without
 *    the other's change, and the product kept a wrong `sold_total` (or stock flag) for good.
 *    Computing after the lock sees every change whose transaction already updated the product;
 *    a change whose transaction has not yet reached the product adds its difference after ours.
 *    The lock is FOR NO KEY UPDATE, the one an UPDATE takes: FOR UPDATE would also wait for every
 *    open checkout whose order line references the product (its foreign-key check holds FOR KEY
 *    SHARE) while holding the variant row those checkouts wait for, a deadlock under a crowd.
 *
 * test/integration/product-aggregates.test.ts races sales, sell-outs, returns and catalog edits.
 */
export class Migration20261205010000_sold_total_by_difference extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create or replace function product_refresh_aggregates(ids bigint[]) returns void language plpgsql as $$
begin
  perform 1 from product where id = any(ids) order by id for no key update;
  update product p
     set attrs = a.attrs, price_min = a.price_min, price_max = a.price_max,
         in_stock = a.in_stock, sold_total = a.sold_total
    from (
      select p2.id,
             coalesce((select array_agg(distinct (e->>'name') || '=' || (e->>'value') order by (e->>'name') || '=' || (e->>'value'))
                         from variant v2, jsonb_array_elements(v2.attributes) e
                        where v2.product_id = p2.id), '{}') as attrs,
             coalesce(min(v.price), 0) as price_min,
             coalesce(max(v.price), 0) as price_max,
             coalesce(bool_or(v.on_hand - v.reserved - v.sold > 0), false) as in_stock,
             coalesce(sum(v.sold), 0) as sold_total
        from product p2 left join variant v on v.product_id = p2.id
       where p2.id = any(ids)
       group by p2.id
    ) a
   where p.id = a.id
     and (p.attrs, p.price_min, p.price_max, p.in_stock, p.sold_total)
         is distinct from (a.attrs, a.price_min, a.price_max, a.in_stock, a.sold_total);
end $$;

create or replace function variant_row_updated() returns trigger language plpgsql as $$
begin
  if old.price is not distinct from new.price
     and old.attributes is not distinct from new.attributes
     and (old.on_hand - old.reserved - old.sold > 0) is not distinct from (new.on_hand - new.reserved - new.sold > 0)
     and old.product_id = new.product_id then
    update product set sold_total = sold_total + (new.sold - old.sold)
     where id = new.product_id and new.sold <> old.sold;
  else
    perform product_refresh_aggregates(array[old.product_id, new.product_id]);
  end if;
  return null;
end $$;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
create or replace function variant_row_updated() returns trigger language plpgsql as $$
begin
  perform product_refresh_aggregates(array[new.product_id]);
  return null;
end $$;
`);
  }
}
