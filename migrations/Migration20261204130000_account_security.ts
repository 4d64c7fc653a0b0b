import { Migration } from '@mikro-orm/migrations';

/**
 * Account security (docs/security.md):
 * - `app_user.token_version`: every token carries the version it was signed with; signOut and a
 *   password change increase it, which revokes every token signed before.
 * - The checkout caps count a customer's unpaid orders on every checkout: a partial index keeps
 *   that a lookup of the few unpaid rows, however many orders the customer has.
 */
export class Migration20261204130000_account_security extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table app_user add column token_version integer not null default 0;`);
    this.addSql(
      `create index shop_order_buyer_unpaid_idx on shop_order (buyer_id) where status = 'PENDING_PAYMENT';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists shop_order_buyer_unpaid_idx;`);
    this.addSql(`alter table app_user drop column if exists token_version;`);
  }
}
