import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { UserError, isErrorResult } from '../../shared/error-result';
import { ShipmentType } from '../fulfillment/fulfillment.types';
import { toShipment } from '../fulfillment/shipment.store';
import { Role } from '../identity/user.entity';
import { AddressInput, OrderEventType, OrderType } from '../order/order.types';
import type { AfterSaleRow } from './aftersale.store';
import {
  AfterSaleLineType,
  AfterSaleRequestInput,
  AfterSaleResult,
  AfterSaleType,
  toAfterSale,
} from './aftersale.types';

const trimmed = (s?: string | null) => (s ? s.trim() || null : null);

/** The address as stored: trimmed, empty optional parts as null, the country upper-case. */
const addressData = (a: AddressInput) => ({
  name: a.name.trim(),
  line1: a.line1.trim(),
  line2: trimmed(a.line2),
  city: a.city.trim(),
  region: trimmed(a.region),
  postalCode: a.postalCode.trim(),
  country: a.country.trim().toUpperCase(),
  phone: trimmed(a.phone),
});

@Resolver(() => AfterSaleType)
export class AfterSaleResolver {
  private out(ctx: Context, r: AfterSaleRow | UserError): typeof AfterSaleResult {
    return isErrorResult(r) ? r : toAfterSale(r, ctx.config.currency);
  }

  @Query(() => AfterSaleType, {
    nullable: true,
    description: 'Its buyer, its merchant and admins see an after-sale; for anyone else it does not exist.',
  })
  async afterSale(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<AfterSaleType | null> {
    const r = await ctx.services.afterSales.find(ctx.em, ctx.principal, id);
    return r ? toAfterSale(r, ctx.config.currency) : null;
  }

  @Mutation(() => AfterSaleResult, {
    description:
      "Buyer: ask for a refund, a return or an exchange of some of an order's units. REFUND_ONLY from payment on (within AFTER_SALE_WINDOW_DAYS after delivery); returns and exchanges after delivery, within that window. Idempotent by key.",
  })
  async afterSaleRequest(
    @Arg('input', () => AfterSaleRequestInput) input: AfterSaleRequestInput,
    @Ctx() ctx: Context,
  ): Promise<typeof AfterSaleResult> {
    const p = authorize(ctx.principal);
    const r = await ctx.services.afterSales.request(ctx.em, p, {
      orderId: input.orderId,
      type: input.type,
      lines: input.lines.map((l) => ({ orderLineId: l.orderLineId, quantity: l.quantity })),
      reason: input.reason,
      idempotencyKey: input.idempotencyKey,
    });
    return this.out(ctx, r);
  }

  @Mutation(() => AfterSaleResult, {
    description:
      'MERCHANT: approve or reject a REQUESTED after-sale. Rejecting needs a note; approving a return or exchange needs a returnAddress (default: the last one given). REFUND_ONLY is refunded on approval.',
  })
  async afterSaleReview(
    @Arg('id', () => ID) id: string,
    @Arg('approve', () => Boolean) approve: boolean,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Arg('returnAddress', () => AddressInput, { nullable: true }) returnAddress: AddressInput | null,
    @Ctx() ctx: Context,
  ): Promise<typeof AfterSaleResult> {
    const p = authorize(ctx.principal, Role.MERCHANT, Role.ADMIN);
    const r = await ctx.services.afterSales.review(ctx.em, p, id, {
      approve,
      note: note ?? null,
      returnAddress: returnAddress ? addressData(returnAddress) : null,
    });
    return this.out(ctx, r);
  }

  @Mutation(() => AfterSaleResult, { description: "Buyer: the return parcel's tracking." })
  async afterSaleReturnShip(
    @Arg('id', () => ID) id: string,
    @Arg('carrier', () => String) carrier: string,
    @Arg('trackingNumber', () => String) trackingNumber: string,
    @Ctx() ctx: Context,
  ): Promise<typeof AfterSaleResult> {
    const p = authorize(ctx.principal);
    return this.out(ctx, await ctx.services.afterSales.returnShip(ctx.em, p, id, carrier, trackingNumber));
  }

  @Mutation(() => AfterSaleResult, {
    description: 'MERCHANT: the return arrived; issues the refund, or ships the exchange.',
  })
  async afterSaleReceive(
    @Arg('id', () => ID) id: string,
    @Arg('exchangeCarrier', () => String, { nullable: true }) exchangeCarrier: string | null,
    @Arg('exchangeTrackingNumber', () => String, { nullable: true }) exchangeTrackingNumber: string | null,
    @Ctx() ctx: Context,
  ): Promise<typeof AfterSaleResult> {
    const p = authorize(ctx.principal, Role.MERCHANT, Role.ADMIN);
    return this.out(
      ctx,
      await ctx.services.afterSales.receive(
        ctx.em,
        p,
        id,
        exchangeCarrier ?? null,
        exchangeTrackingNumber ?? null,
      ),
    );
  }

  @FieldResolver(() => [AfterSaleLineType])
  async lines(@Root() a: AfterSaleType, @Ctx() ctx: Context): Promise<AfterSaleLineType[]> {
    return (await ctx.loaders.afterSale.lines.load(a.id)).map((l) =>
      Object.assign(new AfterSaleLineType(), { orderLineId: String(l.order_line_id), quantity: l.quantity }),
    );
  }

  @FieldResolver(() => ShipmentType, {
    nullable: true,
    description: "The buyer's parcel back (returns and exchanges).",
  })
  async returnShipment(@Root() a: AfterSaleType, @Ctx() ctx: Context): Promise<ShipmentType | null> {
    const s = a.returnShipmentId ? await ctx.loaders.fulfillment.shipment.load(a.returnShipmentId) : null;
    return s ? toShipment(s) : null;
  }

  @FieldResolver(() => ShipmentType, {
    nullable: true,
    description: 'The replacement going out (exchanges).',
  })
  async exchangeShipment(@Root() a: AfterSaleType, @Ctx() ctx: Context): Promise<ShipmentType | null> {
    const s = a.exchangeShipmentId ? await ctx.loaders.fulfillment.shipment.load(a.exchangeShipmentId) : null;
    return s ? toShipment(s) : null;
  }
}

@Resolver(() => OrderType)
export class OrderAfterSaleResolver {
  @FieldResolver(() => [AfterSaleType], { description: "The order's after-sale requests, oldest first." })
  async afterSales(@Root() o: OrderType, @Ctx() ctx: Context): Promise<AfterSaleType[]> {
    return (await ctx.loaders.afterSale.byOrder.load(o.id)).map((r) => toAfterSale(r, ctx.config.currency));
  }
}

@Resolver(() => OrderEventType)
export class OrderEventAfterSaleResolver {
  @FieldResolver(() => AfterSaleType, {
    nullable: true,
    description: 'The after-sale the event is about (AFTER_SALE_UPDATED), as it is now.',
  })
  async afterSale(@Root() e: OrderEventType, @Ctx() ctx: Context): Promise<AfterSaleType | null> {
    const r = e.afterSaleId ? await ctx.loaders.afterSale.byId.load(e.afterSaleId) : null;
    return r ? toAfterSale(r, ctx.config.currency) : null;
  }
}
