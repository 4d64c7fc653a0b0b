import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { isErrorResult } from '../../shared/error-result';
import { checkPageSize, decodeCursor, encodeCursor } from '../../shared/pagination';
import { deliveryPagesOf } from './webhook.loaders';
import {
  toDelivery,
  toEndpoint,
  WebhookDeliveryConnection,
  WebhookDeliveryStatus,
  WebhookDeliveryType,
  WebhookEndpointCreated,
  WebhookEndpointCreateInput,
  WebhookEndpointResult,
  WebhookEndpointType,
} from './webhook.types';

@Resolver(() => WebhookEndpointType)
export class WebhookResolver {
  @Query(() => [WebhookEndpointType], {
    description: "MERCHANT (its shop's) or a partner with WEBHOOKS; ADMIN names the shop with merchantId.",
  })
  async webhookEndpoints(
    @Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null,
    @Ctx() ctx: Context,
  ): Promise<WebhookEndpointType[]> {
    return (await ctx.services.webhooks.list(ctx.em, ctx.principal, merchantId)).map(toEndpoint);
  }

  @Mutation(() => WebhookEndpointResult, {
    description:
      "MERCHANT (its shop's events) or a partner with WEBHOOKS. The secret signs every delivery (Standard Webhooks) and is shown only here.",
  })
  async webhookEndpointCreate(
    @Arg('input', () => WebhookEndpointCreateInput) input: WebhookEndpointCreateInput,
    @Ctx() ctx: Context,
  ): Promise<typeof WebhookEndpointResult> {
    const r = await ctx.services.webhooks.create(ctx.em, ctx.principal, input);
    if (isErrorResult(r)) return r;
    return Object.assign(new WebhookEndpointCreated(), {
      endpoint: toEndpoint(r.endpoint),
      secret: r.secret,
    });
  }

  @Mutation(() => Boolean, {
    description:
      'Stops deliveries to the endpoint. True when this call deleted it, false when already deleted.',
  })
  webhookEndpointDelete(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.webhooks.delete(ctx.em, ctx.principal, id);
  }

  @Mutation(() => WebhookDeliveryType, {
    description: 'Sends a delivery again (a DEAD one comes back to life), with the same webhook-id.',
  })
  async webhookRedeliver(
    @Arg('deliveryId', () => ID) deliveryId: string,
    @Ctx() ctx: Context,
  ): Promise<WebhookDeliveryType> {
    return toDelivery(await ctx.services.webhooks.redeliver(ctx.em, ctx.principal, deliveryId));
  }

  @FieldResolver(() => WebhookDeliveryConnection, { description: 'Newest first.' })
  async deliveries(
    @Root() ep: WebhookEndpointType,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status: WebhookDeliveryStatus | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<WebhookDeliveryConnection> {
    const size = checkPageSize(first ?? 20, ctx.config.limits.maxPageSize);
    const beforeId = after ? String(decodeCursor(after, ['string'])[0]) : null;
    const rows = await deliveryPagesOf(ctx, ctx.em).load({
      endpointId: ep.id,
      status: status ?? null,
      limit: size + 1,
      beforeId,
    });
    const page = rows.slice(0, size);
    const edges = page.map((r) => ({ cursor: encodeCursor([String(r.id)]), node: toDelivery(r) }));
    return Object.assign(new WebhookDeliveryConnection(), {
      edges,
      pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null },
    });
  }
}
