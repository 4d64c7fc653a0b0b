import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { rowById, rowsPerKey } from '../../shared/batch';
import type { ShipmentRow, TrackingEventRow } from './shipment.store';

/** Request-scoped batch loaders for shipments and their tracking events, hot or archived (docs/archive.md). */
export function fulfillmentLoaders(em: EntityManager) {
  return {
    shipment: new DataLoader(
      rowById<ShipmentRow>(
        em,
        `select * from shipment where id = any($1::bigint[])
         union all select * from archive.shipment where id = any($1::bigint[])`,
      ),
    ),
    shipmentsByOrder: new DataLoader(
      rowsPerKey<ShipmentRow>(
        em,
        `select * from shipment where order_id = any($1::bigint[])
         union all select * from archive.shipment where order_id = any($1::bigint[]) order by id`,
        (r) => String(r.order_id),
      ),
    ),
    trackingByShipment: new DataLoader(
      rowsPerKey<TrackingEventRow>(
        em,
        `select * from tracking_event where shipment_id = any($1::bigint[])
         union all select * from archive.tracking_event where shipment_id = any($1::bigint[]) order by occurred_at, id`,
        (r) => String(r.shipment_id),
      ),
    ),
  };
}
