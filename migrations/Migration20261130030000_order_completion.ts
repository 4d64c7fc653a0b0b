import { Migration } from '@mikro-orm/migrations';

/** The auto-completion sweep reads delivered orders by delivery time every minute. */
export class Migration20261130030000_order_completion extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index shop_order_delivered_due_idx on shop_order (delivered_at) where status = 'DELIVERED';`,
    );
  }
}
