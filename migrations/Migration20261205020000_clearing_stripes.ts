import { Migration } from '@mikro-orm/migrations';

/**
 * The platform's PROVIDER_CLEARING account is striped too (like escrow and fee revenue in
 * Migration20261204150000_ledger_stripes). It was one row that every card purchase, top-up and
 * card refund of the whole platform updated, so every card sale queued on its lock. Clearing has no
 * floor (it may go below zero), so any movement, credit or debit, simply goes to the stripe its
 * reference hashes to; its balance is the sum of its stripes. The existing row stays stripe 0 with
 * its entries, so nothing is moved; stripes 1 to 15 are made here, empty, like the fee stripes.
 */
export class Migration20261205020000_clearing_stripes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
-- Migrations run in one transaction: the ledger's deferred checks of rows written by earlier
-- statements run now, as ALTER TABLE needs no pending trigger events.
set constraints all immediate;
alter table ledger_account drop constraint ledger_account_stripe_kind,
  add constraint ledger_account_stripe_kind check (stripe = 0 or kind in ('ESCROW', 'FEE_REVENUE', 'PROVIDER_CLEARING'));
insert into ledger_account (owner_type, owner_id, kind, stripe)
  select 'PLATFORM', null, 'PROVIDER_CLEARING', s from generate_series(1, 15) s
  on conflict do nothing;
-- Every deferrable constraint of the schema is initially deferred: back to that.
set constraints all deferred;
`);
  }

  /**
   * Removes the empty clearing stripes. Once a stripe other than 0 holds entries the ledger cannot
   * be undone (it is append-only): the CHECK then refuses and the down migration fails.
   */
  override async down(): Promise<void> {
    this.addSql(`
set constraints all immediate;
alter table ledger_account disable trigger ledger_account_guard;
delete from ledger_account a
 where a.owner_type = 'PLATFORM' and a.kind = 'PROVIDER_CLEARING' and a.stripe <> 0
   and not exists (select 1 from ledger_entry e where e.account_id = a.id);
alter table ledger_account enable trigger ledger_account_guard;
alter table ledger_account drop constraint ledger_account_stripe_kind,
  add constraint ledger_account_stripe_kind check (stripe = 0 or kind in ('ESCROW', 'FEE_REVENUE'));
set constraints all deferred;
`);
  }
}
