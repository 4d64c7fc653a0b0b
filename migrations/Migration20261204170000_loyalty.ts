import { Migration } from '@mikro-orm/migrations';

/**
 * Loyalty points get a ledger of their own (docs/loyalty.md, issue 10 item 2, issue 12 item 5).
 *
 * - `loyalty_entry`: append-only, one row per cause (an order earning, a checkout spending, a
 *   refund reversing, a cancellation returning), unique per (user, cause): the same cause applied
 *   twice, by a replayed callback or two racing admins, inserts nothing the second time.
 * - `app_user.points` stays the guarded balance row that checkout reads and spends from (it cannot
 *   go below zero); `app_user.points_owed` is what a reversal could not take because the points
 *   had been spent, and is paid back first from whatever the customer earns next. The balance is
 *   the sum of the entries' `points`, the debt the sum of their `owed` (the money invariants check both).
 * - Balances that exist today become one OPENING entry each, so the sums hold from the start.
 *
 * Keyed by `user_id` (the buyer) like the other tables that grow with orders (docs/scaling.md). No
 * foreign key to `shop_order` or `refund`: orders move to the archive, the entries stay.
 */
export class Migration20261204170000_loyalty extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table app_user
  add column points_owed integer not null default 0 check (points_owed >= 0),
  -- Whatever is owed is paid from the next points, so a customer never holds both.
  add constraint app_user_points_or_owed check (points = 0 or points_owed = 0);

create table loyalty_entry (
  user_id bigint not null references app_user(id),
  id bigint generated always as identity,
  kind text not null check (kind in ('OPENING', 'EARN', 'SPEND', 'RETURN', 'REVERSE', 'ADJUST')),
  -- What the cause is worth (credit > 0, debit < 0) ...
  amount bigint not null check (amount <> 0),
  -- ... and how it moved app_user.points and app_user.points_owed: amount = points - owed.
  points bigint not null,
  owed bigint not null,
  cause text not null check (length(cause) between 1 and 200),
  order_id bigint,
  refund_id bigint,
  checkout_id bigint,
  -- The money (minor units) the amount was computed from: what an EARN's order kept, what a
  -- refund gave back.
  basis bigint,
  -- Why, for entries made by a person (ADJUST).
  note text check (length(note) <= 500),
  created_at timestamptz not null default now(),
  primary key (user_id, id),
  check (amount = points - owed),
  check ((kind in ('EARN', 'RETURN', 'OPENING') and amount > 0) or (kind in ('SPEND', 'REVERSE') and amount < 0) or kind = 'ADJUST')
);
create unique index loyalty_entry_cause on loyalty_entry (user_id, cause);
create index loyalty_entry_order on loyalty_entry (user_id, order_id) where order_id is not null;

-- Append-only: an entry is never changed or removed.
create or replace function loyalty_entry_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'loyalty entries are append-only';
end $$;
create trigger loyalty_entry_immutable before update or delete on loyalty_entry
  for each row execute function loyalty_entry_immutable();

insert into loyalty_entry (user_id, kind, amount, points, owed, cause)
select id, 'OPENING', points, points, 0, 'opening' from app_user where points > 0;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists loyalty_entry;`);
    this.addSql(`drop function if exists loyalty_entry_immutable();`);
    this.addSql(
      `alter table app_user drop constraint if exists app_user_points_or_owed, drop column if exists points_owed;`,
    );
  }
}
