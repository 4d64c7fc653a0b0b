import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize, authorizeMerchant } from '../../shared/auth';

import { toOrder } from '../order/order.resolver';
import { OrderEventType, OrderResult, OrderType } from '../order/order.types';
import { ShipmentResult, ShipmentType, TrackingEventType } from './fulfillment.types';
import { toShipment, type ShipmentRow, type TrackingEventRow } from './shipment.store';
import { isErrorResult } from '../../shared/error-result';

@Resolver()
export class FulfillmentResolver {
  @Mutation(() => ShipmentResult, {
    description:
      'MERCHANT: own paid orders. Creates the shipment and moves the order to SHIPPED; the same call again returns the same shipment.',
  })
  async orderShip(
    @Arg('orderId', () => ID) orderId: string,
    @Arg('carrier', () => String) carrier: string,
    @Arg('trackingNumber', () => String) trackingNumber: string,
    @Ctx() ctx: Context,
  ): Promise<typeof ShipmentResult> {
    const r = await ctx.services.fulfillment.ship(
      ctx.em,
      authorizeMerchant(ctx.principal),
      orderId,
      carrier,
      trackingNumber,
    );
    return isErrorResult(r) ? r : toShipment(r);
  }

  @Mutation(() => ShipmentResult, {
    description:
      'MERCHANT: correct a tracking number; fails with VERSION_CONFLICT if the shipment changed since expectedVersion.',
  })
  async shipmentTrackingUpdate(
    @Arg('shipmentId', () => ID) shipmentId: string,
    @Arg('trackingNumber', () => String) trackingNumber: string,
    @Arg('expectedVersion', () => Int) expectedVersion: number,
    @Ctx() ctx: Context,
  ): Promise<typeof ShipmentResult> {
    const r = await ctx.services.fulfillment.updateTracking(
      ctx.em,
      authorizeMerchant(ctx.principal),
      shipmentId,
      trackingNumber,
      expectedVersion,
    );
    return isErrorResult(r) ? r : toShipment(r);
  }

  @Mutation(() => OrderResult, {
    description:
      "Buyer: after delivery; also happens automatically some days after delivery. Releases the merchant's escrow and awards loyalty points.",
  })
  async orderConfirmReceipt(
    @Arg('orderId', () => ID) orderId: string,
    @Ctx() ctx: Context,
  ): Promise<typeof OrderResult> {
    const r = await ctx.services.fulfillment.confirmReceipt(ctx.em, authorize(ctx.principal), orderId);
    return isErrorResult(r) ? r : toOrder(r, ctx.config.currency);
  }
}

@Resolver(() => OrderType)
export class OrderShipmentsResolver {
  @FieldResolver(() => [ShipmentType], {
    description: "The order's parcel, and any return or exchange parcels, oldest first.",
  })
  async shipments(@Root() o: OrderType, @Ctx() ctx: Context): Promise<ShipmentType[]> {
    return (await ctx.loaders.fulfillment.shipmentsByOrder.load(o.id)).map(toShipment);
  }
}

export const toTrackingEvent = (r: TrackingEventRow): TrackingEventType =>
  Object.assign(new TrackingEventType(), {
    status: r.status,
    location: r.location,
    description: r.description,
    occurredAt: r.occurred_at,
  });

@Resolver(() => ShipmentType)
export class ShipmentEventsResolver {
  @FieldResolver(() => [TrackingEventType], {
    description: "The carrier's reports, oldest first (by when they happened, not when they arrived).",
  })
  async events(@Root() s: ShipmentType, @Ctx() ctx: Context): Promise<TrackingEventType[]> {
    const rows = await ctx.loaders.fulfillment.trackingByShipment.load(s.id);
    // A shipment as it was at an event shows the reports that had arrived by then.
    const upTo = s.trackingUpTo == null ? null : BigInt(s.trackingUpTo);
    return (upTo === null ? rows : rows.filter((r) => BigInt(r.id) <= upTo)).map(toTrackingEvent);
  }
}

@Resolver(() => OrderEventType)
export class OrderEventShipmentResolver {
  @FieldResolver(() => ShipmentType, {
    nullable: true,
    description:
      'The shipment a SHIPMENT_UPDATED event is about, as it was at that event (live or replayed alike).',
  })
  async shipment(@Root() e: OrderEventType, @Ctx() ctx: Context): Promise<ShipmentType | null> {
    if (!e.shipmentId) return null;
    const snap = e.shipmentSnapshot;
    if (snap?.shipment) {
      return Object.assign(toShipment(snap.shipment as ShipmentRow), {
        trackingUpTo: String(snap.trackingUpTo),
      });
    }
    // Events written before snapshots existed show the shipment as it is now.
    const row = await ctx.loaders.fulfillment.shipment.load(String(e.shipmentId));
    return row ? toShipment(row) : null;
  }
}
