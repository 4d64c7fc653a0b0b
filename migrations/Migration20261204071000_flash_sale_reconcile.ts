import { Migration } from '@mikro-orm/migrations';

/**
 * Flash sales: how many entries PostgreSQL itself decided (the path without Redis). The Redis copy
 * of a sale records the count it was rebuilt from; a worker that finds a larger count in
 * PostgreSQL knows a decision committed after the rebuild and rebuilds again, so the copy always
 * converges on PostgreSQL (a flag in memory could be cleared before a late decision committed).
 */
export class Migration20261204071000_flash_sale_reconcile extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table flash_sale add column pg_decided integer not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table flash_sale drop column pg_decided;`);
  }
}
