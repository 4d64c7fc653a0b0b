import { Migration } from '@mikro-orm/migrations';

/**
 * A tracking number names one parcel per carrier while it travels: unique among shipments and
 * returns that are not delivered yet (carriers reuse numbers once a parcel has arrived). Without it a
 * merchant could ship with another shop's number and receive that parcel's DELIVERED event.
 */
export class Migration20261204030000_tracking_unique extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create unique index shipment_tracking_active_uidx on shipment (carrier, tracking_number) where status <> 'DELIVERED';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists shipment_tracking_active_uidx;`);
  }
}
