import { IsInt, Matches, Max, Min, ValidateNested } from 'class-validator';
import { Arg, createUnionType, Ctx, Field, ID, InputType, Int, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { UserError } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { Role } from '../identity/user.entity';
import { OutOfStockError } from '../inventory/inventory.errors';
import { AddressInput, CheckoutType } from '../order/order.types';

@InputType()
export class CheckoutInput {
  @Field(() => ID)
  cartId!: string;

  @Field(() => String, {
    description: 'Client-generated; a retry with the same key and the same input returns the first result.',
  })
  @Matches(/^[\x21-\x7e]{1,100}$/, { message: 'idempotencyKey must be 1-100 printable ASCII characters' })
  idempotencyKey!: string;

  @Field(() => AddressInput)
  @ValidateNested()
  shippingAddress!: AddressInput;

  @Field(() => Int, { nullable: true, defaultValue: 0 })
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  pointsToRedeem?: number | null;
}

export const CheckoutResult = createUnionType({
  name: 'CheckoutResult',
  types: () => [CheckoutType, UserError, OutOfStockError] as const,
});

@Resolver()
export class CheckoutResolver {
  @Mutation(() => CheckoutResult, {
    description: 'Signed-in customers only. All or nothing: stock, coupon and points are taken together.',
  })
  async checkoutCreate(
    @Arg('input', () => CheckoutInput) input: CheckoutInput,
    @Ctx() ctx: Context,
  ): Promise<typeof CheckoutResult> {
    const p = authorize(ctx.principal, Role.CUSTOMER);
    const r = await ctx.services.checkout.create(ctx.em, p.userId, {
      cartId: input.cartId,
      idempotencyKey: input.idempotencyKey,
      shippingAddress: input.shippingAddress,
      pointsToRedeem: input.pointsToRedeem ?? 0,
    });
    if (!('checkoutId' in r)) return r;
    // A new checkout's orders came back from its write: the reply does not read them again.
    if (r.orders) ctx.loaders.order.ordersByCheckout.prime(r.checkoutId, r.orders);
    // A repeated request carries the first checkout as stored (read with its idempotency key).
    return Object.assign(new CheckoutType(), {
      id: r.checkoutId,
      total: Money.of(r.total, ctx.config.currency),
      paymentDeadline: r.paymentDeadline,
    });
  }
}
