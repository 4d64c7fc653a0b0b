import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import { recordOrderEvent } from '../events/order-events';
import { OrderStateError } from '../order/order.errors';
import type { OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import { OrderEventKind } from '../order/order.types';
import type { OrderCompletion } from './completion.service';
import { ShipmentStatus } from './shipment.lifecycle';
import { acceptsReport } from './shipment.lifecycle';
import type { ShipmentRow } from './shipment.store';

/** A carrier's report, as the logistics webhook parsed it (DESIGN.md "HTTP surface"). */
export interface CarrierEvent {
  /** The carrier's event id: each is processed once. */
  id: string;
  carrier: string;
  trackingNumber: string;
  status: ShipmentStatus;
  location: string | null;
  description: string | null;
  occurredAt: Date;
}

/**
 * - applied: stored, and it moved the shipment (a SHIPMENT_UPDATED event, a new version);
 * - recorded: stored in the shipment's history only (older than its status, or not a lifecycle move);
 * - duplicate: this event id was processed before; nothing changed;
 * - unknown: no shipment has this carrier and tracking number; nothing was stored, so the carrier's
 *   retry is processed once the merchant has entered the number.
 */
/** `ambiguous`: the number is on several active parcels of this carrier; held, applied to none. */
export type CarrierEventOutcome = 'applied' | 'recorded' | 'duplicate' | 'unknown' | 'ambiguous';

/** Runs in the transaction that moved a shipment (of any kind) to DELIVERED; a throw rolls the event back. */
export type DeliveredListener = (tx: EntityManager, shipment: ShipmentRow) => Promise<void>;

/** Carrier events: stored once each, applied in the order they happened rather than arrived. */
export class CarrierTracking {
  private readonly deliveredListeners: DeliveredListener[] = [];

  constructor(
    private readonly orders: OrderService,
    private readonly completion: OrderCompletion,
  ) {}

  /**
   * One transaction per event. The order and shipment rows are locked before the event is inserted,
   * so copies of one event (or events of one parcel) arriving together queue; the unique event id
   * makes all but the first a duplicate. The shipment's status moves only for an event at least as recent as
   * the one that set it (a late older event does not move it back) and only along the lifecycle.
   * A tracking number names the one active (not yet delivered) shipment of that carrier; with none
   * active, the newest delivered one (the event is then only recorded). Several active ones (only
   * possible for rows older than the unique index) are never guessed at: the event is held
   * (`ambiguous`) and reported, not applied to the newest.
   */
  async handle(em: EntityManager, e: CarrierEvent): Promise<CarrierEventOutcome> {
    return inTransaction(em, async (tx) => {
      const [seen] = await sqlAll(tx, 'select 1 from tracking_event where event_id = $1', [e.id]);
      if (seen) return 'duplicate';
      const matches = await sqlAll<{ id: string; order_id: string; active: boolean }>(
        tx,
        `select id, order_id, status <> 'DELIVERED' as active from shipment
          where carrier = $1 and tracking_number = $2 order by (status <> 'DELIVERED') desc, id desc limit 2`,
        [e.carrier, e.trackingNumber],
      );
      if (matches.length === 2 && matches[0].active && matches[1].active) return 'ambiguous';
      const found = matches[0];
      if (!found) return 'unknown';
      // The order row first, then the shipment: the order in which every change of an order locks them.
      await sqlAll(tx, 'select 1 from shop_order where id = $1 for update', [found.order_id]);
      const [s] = await sqlAll<ShipmentRow>(
        tx,
        'select * from shipment where id = $1 and carrier = $2 and tracking_number = $3 for update',
        [found.id, e.carrier, e.trackingNumber],
      );
      if (!s) return 'unknown'; // its tracking number was corrected meanwhile
      const inserted = await sqlAll(
        tx,
        `insert into tracking_event (shipment_id, event_id, status, location, description, occurred_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (event_id) do nothing returning id`,
        [s.id, e.id, e.status, e.location, e.description, e.occurredAt],
      );
      if (inserted.length === 0) return 'duplicate';
      const newer = s.status_at === null || e.occurredAt.getTime() >= new Date(s.status_at).getTime();
      if (!newer || !acceptsReport(s.status, e.status)) return 'recorded';

      const [moved] = await sqlAll<ShipmentRow>(
        tx,
        'update shipment set status = $2, status_at = $3, version = version + 1, updated_at = now() where id = $1 returning *',
        [s.id, e.status, e.occurredAt],
      );
      await recordOrderEvent(tx, {
        orderId: moved.order_id,
        type: OrderEventKind.SHIPMENT_UPDATED,
        shipmentId: moved.id,
        afterSaleId: moved.after_sale_id,
      });
      if (moved.status === ShipmentStatus.DELIVERED) {
        if (moved.kind === 'ORDER') await this.delivered(tx, String(moved.order_id));
        for (const listener of this.deliveredListeners) await listener(tx, moved);
      }
      return 'applied';
    });
  }

  /** Lets another module act on deliveries (after-sale: a return arrived, an exchange was delivered). */
  onDelivered(listener: DeliveredListener): void {
    this.deliveredListeners.push(listener);
  }

  /** The order's parcel arrived: SHIPPED → DELIVERED (unless refunded meanwhile), and completion is scheduled. */
  private async delivered(tx: EntityManager, orderId: string): Promise<void> {
    const order = await this.orders.transition(tx, orderId, OrderStatus.DELIVERED);
    if (order instanceof OrderStateError) return;
    await this.completion.scheduleAutoComplete(tx, order);
  }
}
