import { Migration } from '@mikro-orm/migrations';

/**
 * Striped accounts (issue 10, "no single hot row on the money path"). Every sale credited the
 * merchant's one ESCROW row and the platform's one FEE_REVENUE row, so all sales of a merchant (and
 * all sales of the platform) queued on those two row locks. Both kinds are now split into stripes:
 * sub-accounts of the same owner and kind, each with its own balance and chain of entries, so every
 * rule of the ledger holds per stripe unchanged; the account's balance is the sum of its stripes.
 * A sale credits the stripe its order hashes to; releases and refunds take from the stripes that
 * hold the money. Existing rows are stripe 0, so nothing is moved. Accounts with a floor that a
 * sale spends from (a buyer's balance) stay one guarded row.
 */
export class Migration20261204150000_ledger_stripes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
-- Migrations run in one transaction: the ledger's deferred checks of rows written by earlier
-- migrations (the platform's accounts) run now, as ALTER TABLE needs no pending trigger events.
set constraints all immediate;
alter table ledger_account
  add column stripe smallint not null default 0 check (stripe between 0 and 63),
  add constraint ledger_account_stripe_kind check (stripe = 0 or kind in ('ESCROW', 'FEE_REVENUE'));
drop index ledger_account_owner_kind;
create unique index ledger_account_owner_kind on ledger_account (owner_type, coalesce(owner_id, 0), kind, stripe);

-- A stripe never becomes another stripe, like owner and kind.
create or replace function ledger_account_guard() returns trigger language plpgsql as $$
begin
  if tg_op <> 'UPDATE' or new.id <> old.id or new.owner_type <> old.owner_type
     or new.owner_id is distinct from old.owner_id or new.kind <> old.kind or new.stripe <> old.stripe
     or new.created_at <> old.created_at then
    raise exception 'ledger: % of account % is not allowed, only its balance changes', tg_op, old.id
      using errcode = 'restrict_violation';
  end if;
  return new;
end $$;

-- The platform's fee stripes (merchants' escrow stripes are made on first use, like their accounts).
insert into ledger_account (owner_type, owner_id, kind, stripe)
  select 'PLATFORM', null, 'FEE_REVENUE', s from generate_series(1, 15) s;
-- Every deferrable constraint of the schema is initially deferred: back to that.
set constraints all deferred;
`);
  }
}
