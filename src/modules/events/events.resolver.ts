import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { createLoaders, type Context } from '../../server/context';
import { OrderStatus } from '../order/order.lifecycle';
import { OrderEventKind, OrderEventType } from '../order/order.types';
import type { PublishedEvent } from './event-bus';

type SubscribeData<A> = SubscribeResolverData<unknown, A, Context>;

const toEventType = (e: PublishedEvent): OrderEventType =>
  Object.assign(new OrderEventType(), {
    id: e.id,
    orderId: e.orderId,
    type: e.type as OrderEventKind,
    status: e.status as OrderStatus,
    occurredAt: new Date(e.occurredAt),
    shipmentId: e.shipmentId,
    afterSaleId: e.afterSaleId,
    shipmentSnapshot: e.shipment ?? null,
  });

/**
 * Each event is resolved with a fresh EntityManager and fresh loaders, so a long-lived
 * subscription never serves data cached from an earlier event. Both are made only when a field
 * needs them: most events select plain fields, and thousands of idle subscriptions should not each
 * keep a session and a set of loaders alive between their events.
 */
function freshContext(ctx: Context & { root?: Context['em'] }): void {
  const root = (ctx.root ??= ctx.em);
  let em: Context['em'] | undefined;
  let loaders: Context['loaders'] | undefined;
  Object.defineProperties(ctx, {
    em: { configurable: true, get: () => (em ??= root.fork() as Context['em']) },
    loaders: { configurable: true, get: () => (loaders ??= createLoaders(ctx.em)) },
  });
}

@Resolver(() => OrderEventType)
export class OrderEventsResolver {
  @Subscription(() => OrderEventType, {
    description:
      'Buyer, the order’s merchant, or admin. With `after`, first replays every later event, then streams live: none missed, none twice.',
    subscribe: ({ args, context }: SubscribeData<{ orderId: string; after?: string | null }>) =>
      context.services.events.orderStream(context.em, context.principal, args.orderId, args.after ?? null),
  })
  orderEvents(
    @Root() event: PublishedEvent,
    @Arg('orderId', () => ID) _orderId: string,
    @Arg('after', () => ID, { nullable: true }) _after: string | null,
    @Ctx() ctx: Context,
  ): OrderEventType {
    freshContext(ctx);
    return toEventType(event);
  }

  @Subscription(() => OrderEventType, {
    description:
      'MERCHANT: every event of the shop’s orders, new orders included. With `after`, replays later events first.',
    subscribe: ({ args, context }: SubscribeData<{ after?: string | null }>) =>
      context.services.events.merchantStream(context.em, context.principal, args.after ?? null),
  })
  merchantOrderEvents(
    @Root() event: PublishedEvent,
    @Arg('after', () => ID, { nullable: true }) _after: string | null,
    @Ctx() ctx: Context,
  ): OrderEventType {
    freshContext(ctx);
    return toEventType(event);
  }
}
