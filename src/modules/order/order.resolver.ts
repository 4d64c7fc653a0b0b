import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { notFound } from '../../shared/errors';
import { isErrorResult } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { MerchantType } from '../catalog/catalog.types';
import type { Merchant } from '../catalog/merchant.entity';
import { Customer } from '../identity/identity.types';

import type { OrderLineRow } from './order.loaders';
import type { OrderEventRow } from '../events/order-events';
import type { Order } from './order.service';
import { OrderStatus } from './order.lifecycle';
import {
  AddressType,
  CheckoutType,
  OrderConnection,
  OrderEventKind,
  OrderEventType,
  OrderFilter,
  OrderLineType,
  OrderResult,
  OrderType,
  ProductSnapshotType,
} from './order.types';

type OrderObject = OrderType & { buyerId: string; merchantId: string };

export function toOrder(o: Order, currency: string): OrderObject {
  const m = (n: number) => Money.of(n, currency);
  return Object.assign(new OrderType(), {
    id: o.id,
    status: o.status,
    subtotal: m(o.subtotal),
    discount: m(o.discount),
    pointsDiscount: m(o.pointsDiscount),
    shippingFee: m(o.shippingFee),
    total: m(o.total),
    shippingAddress: Object.assign(new AddressType(), o.shippingAddress),
    paymentDeadline: o.status === OrderStatus.PENDING_PAYMENT ? o.paymentDeadline : null,
    version: o.version,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    buyerId: o.buyerId,
    merchantId: o.merchantId,
  });
}

export const toEvent = (e: OrderEventRow): OrderEventType =>
  Object.assign(new OrderEventType(), {
    id: String(e.id),
    orderId: String(e.order_id),
    type: e.type as OrderEventKind,
    status: e.status as OrderStatus,
    occurredAt: e.created_at,
    shipmentId: e.shipment_id ? String(e.shipment_id) : null,
    afterSaleId: e.after_sale_id ? String(e.after_sale_id) : null,
    shipmentSnapshot: e.payload ?? null,
  });

@Resolver(() => OrderType)
export class OrderResolver {
  @Query(() => OrderType, {
    nullable: true,
    description:
      'Its buyer, its merchant and admins see an order, hot or archived alike; for anyone else it does not exist.',
  })
  async order(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<OrderObject | null> {
    const r = await ctx.services.orders.findAnywhere(ctx.em, ctx.principal, id);
    return r ? toOrder(r, ctx.config.currency) : null;
  }

  @Query(() => OrderConnection, {
    description: "Buyers see their own orders, merchants their shop's, admins all. Newest first.",
  })
  async orders(
    @Arg('filter', () => OrderFilter, { nullable: true }) filter: OrderFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<OrderConnection> {
    const p = authorize(ctx.principal);
    // A replica may serve it (read-your-writes: the caller's own new orders are there).
    const page = await ctx.services.reads.forRead('orders.list', p, () =>
      ctx.services.orders.list(ctx.em, p, filter ?? {}, first ?? 20, after),
    );
    return {
      edges: page.items.map((i) => ({ cursor: i.cursor, node: toOrder(i.row, ctx.config.currency) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.items.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => OrderResult, {
    description: 'Buyer: only while PENDING_PAYMENT. Gives back stock, points and the coupon use.',
  })
  async orderCancel(
    @Arg('orderId', () => ID) orderId: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: Context,
  ): Promise<typeof OrderResult> {
    const p = authorize(ctx.principal);
    const r = await ctx.services.orders.cancel(ctx.em, p, orderId, reason?.slice(0, 500) ?? null);
    if (r === null) throw notFound('Order', orderId.slice(0, 40));
    return isErrorResult(r) ? r : toOrder(r, ctx.config.currency);
  }

  @FieldResolver(() => Customer)
  async buyer(@Root() o: OrderObject, @Ctx() ctx: Context): Promise<Customer> {
    return Object.assign(new Customer(), await ctx.loaders.order.customer.load(o.buyerId));
  }

  @FieldResolver(() => MerchantType)
  merchant(@Root() o: OrderObject, @Ctx() ctx: Context): Promise<Merchant | null> {
    return ctx.loaders.catalog.merchant.load(o.merchantId);
  }

  @FieldResolver(() => [OrderLineType])
  async lines(@Root() o: OrderObject, @Ctx() ctx: Context): Promise<OrderLineType[]> {
    const rows = await ctx.loaders.order.linesByOrder.load(o.id);
    return rows.map((l: OrderLineRow) =>
      Object.assign(new OrderLineType(), {
        id: String(l.id),
        variantId: String(l.variant_id),
        sku: l.sku,
        title: l.title,
        attributes: l.attributes,
        quantity: l.quantity,
        unitPrice: Money.of(Number(l.unit_price), ctx.config.currency),
        lineTotal: Money.of(Number(l.total), ctx.config.currency),
        snapshotDigest: l.snapshot_digest,
      }),
    );
  }

  @FieldResolver(() => [OrderEventType], {
    description: 'Status changes and logistics events, oldest first.',
  })
  async history(@Root() o: OrderObject, @Ctx() ctx: Context): Promise<OrderEventType[]> {
    return (await ctx.loaders.order.eventsByOrder.load(o.id)).map(toEvent);
  }
}

@Resolver(() => OrderLineType)
export class OrderLineResolver {
  @FieldResolver(() => ProductSnapshotType, {
    nullable: true,
    description: 'Null only while the snapshot is still being written.',
  })
  snapshot(@Root() l: OrderLineType, @Ctx() ctx: Context) {
    return ctx.loaders.order.snapshot.load(l.snapshotDigest);
  }
}

@Resolver(() => CheckoutType)
export class CheckoutQueryResolver {
  @Query(() => CheckoutType, { nullable: true })
  async checkout(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<CheckoutType | null> {
    const r = await ctx.services.orders.findCheckout(ctx.em, ctx.principal, id);
    return r
      ? Object.assign(new CheckoutType(), {
          id: String(r.id),
          total: Money.of(Number(r.total), ctx.config.currency),
          paymentDeadline: r.payment_deadline,
        })
      : null;
  }

  @FieldResolver(() => [OrderType])
  async orders(@Root() c: CheckoutType, @Ctx() ctx: Context): Promise<OrderObject[]> {
    return (await ctx.loaders.order.ordersByCheckout.load(c.id)).map((r) => toOrder(r, ctx.config.currency));
  }
}
