import {
  Arg,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { VariantType } from '../catalog/catalog.types';
import type { Variant } from '../catalog/variant.entity';
import { Role } from '../identity/user.entity';
import { CheckoutType } from '../order/order.types';
import type { EntryView, FlashSaleRow } from './flashsale.types';
import {
  FlashSaleCreateInput,
  FlashSaleEntryResult,
  FlashSaleEntryType,
  FlashSaleType,
  toEntryType,
} from './flashsale.types';

const toSale = (r: FlashSaleRow & { remaining: number }, currency: string): FlashSaleType =>
  Object.assign(new FlashSaleType(), {
    id: String(r.id),
    variantId: String(r.variant_id),
    price: Money.of(Number(r.price), currency),
    quantity: r.quantity,
    remaining: r.remaining,
    perCustomerLimit: r.per_customer_limit,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
  });

@Resolver(() => FlashSaleType)
export class FlashSaleResolver {
  @Query(() => FlashSaleType, { nullable: true })
  async flashSale(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<FlashSaleType | null> {
    const r = await ctx.services.flashSales.find(ctx.em, id);
    return r ? toSale(r, ctx.config.currency) : null;
  }

  @Mutation(() => FlashSaleType, {
    description:
      "ADMIN, or the variant's MERCHANT. Holds the sale's units from the variant's available stock at once (BAD_USER_INPUT when fewer are available); the same sale asked again returns the first.",
  })
  async flashSaleCreate(
    @Arg('input', () => FlashSaleCreateInput) input: FlashSaleCreateInput,
    @Ctx() ctx: Context,
  ): Promise<FlashSaleType> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    const sale = await ctx.services.flashSales.create(ctx.em, p, {
      ...input,
      perCustomerLimit: input.perCustomerLimit ?? 1,
    });
    return toSale({ ...sale, remaining: sale.quantity }, ctx.config.currency);
  }

  @FieldResolver(() => VariantType)
  async variant(@Root() s: FlashSaleType, @Ctx() ctx: Context): Promise<Variant | null> {
    return ctx.loaders.catalog.variant.load(s.variantId);
  }
}

@Resolver(() => FlashSaleEntryType)
export class FlashSaleEntryResolver {
  @Query(() => FlashSaleEntryType, { nullable: true, description: 'Its customer only.' })
  async flashSaleEntry(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<FlashSaleEntryType | null> {
    const e = await ctx.services.flashSales.entry(ctx.em, ctx.principal, id);
    return e ? toEntryType(e) : null;
  }

  @Mutation(() => FlashSaleEntryResult, {
    description:
      'CUSTOMER. Idempotent per key. Answers at once: QUEUED (then ORDERED or SOLD_OUT), ORDERED, or an error.',
  })
  async flashSaleEnter(
    @Arg('flashSaleId', () => ID) flashSaleId: string,
    @Arg('quantity', () => Int, { defaultValue: 1 }) quantity: number,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
    @Ctx() ctx: Context,
  ): Promise<typeof FlashSaleEntryResult> {
    const p = authorize(ctx.principal, Role.CUSTOMER);
    // The `checkout` switch pauses every way of ordering, flash sales included (nothing is written).
    if (!ctx.services.switches.isOn('checkout'))
      return UserError.of(
        ErrorCode.SERVICE_DEGRADED,
        'Checkout is paused for a moment; please try again shortly',
      );
    const r = await ctx.services.flashSales.enter(ctx.em, p.userId, flashSaleId, quantity, idempotencyKey);
    return 'status' in r ? toEntryType(r) : r;
  }

  @Subscription(() => FlashSaleEntryType, {
    description: 'Its customer only: the entry each time its status or position changes.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { id: string }, Context>) =>
      context.services.flashSales.entryStream(context.em, context.principal, args.id),
  })
  flashSaleEntryUpdates(@Root() e: EntryView, @Arg('id', () => ID) _id: string): FlashSaleEntryType {
    return toEntryType(e);
  }

  @FieldResolver(() => FlashSaleType)
  async flashSale(@Root() e: FlashSaleEntryType, @Ctx() ctx: Context): Promise<FlashSaleType> {
    return toSale((await ctx.services.flashSales.find(ctx.em, e.flashSaleId))!, ctx.config.currency);
  }

  @FieldResolver(() => CheckoutType, {
    nullable: true,
    description:
      'Set when ORDERED: pay it with paymentStart within the payment window; unpaid units return to the sale.',
  })
  async checkout(@Root() e: FlashSaleEntryType, @Ctx() ctx: Context): Promise<CheckoutType | null> {
    if (!e.checkoutId) return null;
    const c = await ctx.services.orders.findCheckout(ctx.em, ctx.principal, e.checkoutId);
    return c
      ? Object.assign(new CheckoutType(), {
          id: String(c.id),
          total: Money.of(Number(c.total), ctx.config.currency),
          paymentDeadline: c.payment_deadline,
        })
      : null;
  }
}
