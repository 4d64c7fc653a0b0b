import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize, isAdmin } from '../../shared/auth';
import { Role } from '../identity/user.entity';
import { CouponCreateInput, PromotionCreateInput } from './pricing.inputs';
import { CouponType, PromotionType } from './pricing.types';

@Resolver()
export class PricingResolver {
  @Mutation(() => PromotionType, {
    description: "ADMIN (platform-wide), or MERCHANT (applies to the merchant's own products only).",
  })
  async promotionCreate(
    @Arg('input', () => PromotionCreateInput) input: PromotionCreateInput,
    @Ctx() ctx: Context,
  ): Promise<PromotionType> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    const merchantId = isAdmin(p) ? null : p.merchantId;
    const r = await ctx.services.pricing.createPromotion(ctx.em, input, merchantId);
    return Object.assign(new PromotionType(), { id: r.id, name: r.name, active: r.active });
  }

  @Mutation(() => CouponType, { description: 'ADMIN.' })
  async couponCreate(
    @Arg('input', () => CouponCreateInput) input: CouponCreateInput,
    @Ctx() ctx: Context,
  ): Promise<CouponType> {
    authorize(ctx.principal, Role.ADMIN);
    const c = await ctx.services.pricing.createCoupon(ctx.em, input);
    return Object.assign(new CouponType(), { code: c.code, description: c.description });
  }
}
