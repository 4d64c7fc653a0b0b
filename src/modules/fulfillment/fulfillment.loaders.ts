import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { ShipmentRow, TrackingEventRow } from './shipment.store';

const group = <R>(keys: readonly string[], rows: R[], keyOf: (r: R) => string): R[][] => {
  const m = new Map<string, R[]>(keys.map((k) => [k, []]));
  for (const r of rows) m.get(keyOf(r))?.push(r);
  return keys.map((k) => m.get(k)!);
};

/** Request-scoped batch loaders for shipments and their tracking events. */
export function fulfillmentLoaders(em: EntityManager) {
  return {
    shipment: new DataLoader<string, ShipmentRow | null>(async (ids) => {
      const rows = await sqlAll<ShipmentRow>(em, 'select * from shipment where id = any($1::bigint[])', [ids]);
      const m = new Map(rows.map((r) => [String(r.id), r]));
      return ids.map((id) => m.get(id) ?? null);
    }),
    shipmentsByOrder: new DataLoader<string, ShipmentRow[]>(async (ids) =>
      group(ids, await sqlAll<ShipmentRow>(em, 'select * from shipment where order_id = any($1::bigint[]) order by id', [ids]), (r) => String(r.order_id)),
    ),
    trackingByShipment: new DataLoader<string, TrackingEventRow[]>(async (ids) =>
      group(
        ids,
        await sqlAll<TrackingEventRow>(em, 'select * from tracking_event where shipment_id = any($1::bigint[]) order by occurred_at, id', [ids]),
        (r) => String(r.shipment_id),
      ),
    ),
  };
}
