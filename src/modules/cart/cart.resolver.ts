import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { VariantType } from '../catalog/catalog.types';
import type { Variant } from '../catalog/variant.entity';
import { CartLineInput, CartLineUpdateInput } from './cart.inputs';
import { capList, mergeLines, mergeUpdates } from './cart.lines';
import type { CartOutcome } from './cart.service';
import { CartLineType, CartResult, CartType, toCart } from './cart.types';

const result = (r: CartOutcome, ctx: Context): typeof CartResult =>
  'lines' in r ? toCart(r, ctx.config.currency) : r;

@Resolver(() => CartType)
export class CartResolver {
  @Query(() => CartType, { nullable: true, description: "With no id: the signed-in customer's cart." })
  async cart(
    @Arg('id', () => ID, { nullable: true }) id: string | null,
    @Ctx() ctx: Context,
  ): Promise<CartType | null> {
    const v = await ctx.services.cart.find(ctx.em, ctx.principal, id);
    return v ? toCart(v, ctx.config.currency) : null;
  }

  @Mutation(() => CartResult, {
    description: 'Anonymous: a new cart. Signed-in customer: their cart, with these lines added.',
  })
  async cartCreate(
    @Arg('lines', () => [CartLineInput], { nullable: true }) lines: CartLineInput[] | null,
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    const merged = mergeLines(capList(lines, ctx.config.cart.maxLines, 'lines'));
    return result(await ctx.services.cart.create(ctx.em, ctx.principal, merged), ctx);
  }

  @Mutation(() => CartResult, { description: 'Quantities of a variant already in the cart add up.' })
  async cartLinesAdd(
    @Arg('cartId', () => ID) cartId: string,
    @Arg('lines', () => [CartLineInput]) lines: CartLineInput[],
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    const merged = mergeLines(capList(lines, ctx.config.cart.maxLines, 'lines'));
    return result(await ctx.services.cart.addLines(ctx.em, ctx.principal, cartId, merged), ctx);
  }

  @Mutation(() => CartResult)
  async cartLinesUpdate(
    @Arg('cartId', () => ID) cartId: string,
    @Arg('lines', () => [CartLineUpdateInput]) lines: CartLineUpdateInput[],
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    const merged = mergeUpdates(capList(lines, ctx.config.cart.maxLines, 'lines'));
    return result(await ctx.services.cart.updateLines(ctx.em, ctx.principal, cartId, merged), ctx);
  }

  @Mutation(() => CartResult)
  async cartLinesRemove(
    @Arg('cartId', () => ID) cartId: string,
    @Arg('lineIds', () => [ID]) lineIds: string[],
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    const ids = [...new Set(capList(lineIds, ctx.config.cart.maxLines, 'lineIds'))];
    return result(await ctx.services.cart.removeLines(ctx.em, ctx.principal, cartId, ids), ctx);
  }

  @Mutation(() => CartResult)
  async cartCouponApply(
    @Arg('cartId', () => ID) cartId: string,
    @Arg('code', () => String) code: string,
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    return result(await ctx.services.cart.applyCoupon(ctx.em, ctx.principal, cartId, code.slice(0, 60)), ctx);
  }

  @Mutation(() => CartResult)
  async cartCouponRemove(
    @Arg('cartId', () => ID) cartId: string,
    @Ctx() ctx: Context,
  ): Promise<typeof CartResult> {
    return result(await ctx.services.cart.removeCoupon(ctx.em, ctx.principal, cartId), ctx);
  }
}

@Resolver(() => CartLineType)
export class CartLineResolver {
  @FieldResolver(() => VariantType)
  variant(@Root() line: CartLineType, @Ctx() ctx: Context): Promise<Variant | null> {
    return ctx.loaders.catalog.variant.load(line.variantId);
  }
}
