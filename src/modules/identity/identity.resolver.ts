import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { MerchantType } from '../catalog/catalog.types';
import { toCart } from '../cart/cart.types';
import type { Merchant } from '../catalog/merchant.entity';
import { MerchantCreateInput, SignUpInput } from './identity.inputs';
import { AuthPayload, SignInResult, SignUpResult, Viewer } from './identity.types';
import { Role, type User } from './user.entity';

@Resolver(() => Viewer)
export class IdentityResolver {
  @Query(() => Viewer, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  viewer(@Ctx() ctx: Context): Promise<User | null> | null {
    return ctx.principal ? ctx.services.identity.viewer(ctx.em, ctx.principal) : null;
  }

  @Mutation(() => SignUpResult, { description: 'Creates a CUSTOMER account and signs it in.' })
  async signUp(
    @Arg('input', () => SignUpInput) input: SignUpInput,
    @Ctx() ctx: Context,
  ): Promise<typeof SignUpResult> {
    const r = await ctx.services.protection.signin.withSlot(ctx.clientIp, () =>
      ctx.services.identity.signUp(ctx.em, input.email, input.password, input.name),
    );
    return 'token' in r ? AuthPayload.of(r.token, r.user) : r;
  }

  @Mutation(() => SignInResult)
  async signIn(
    @Arg('email', () => String) email: string,
    @Arg('password', () => String) password: string,
    @Arg('cartId', () => ID, {
      nullable: true,
      description: "An anonymous cart to merge into the customer's cart, atomically and exactly once.",
    })
    cartId: string | null,
    @Ctx() ctx: Context,
  ): Promise<typeof SignInResult> {
    // Locked out (too many failures for this account, from this IP): refused before any hashing.
    const guard = ctx.services.protection.signin;
    await guard.check(email.slice(0, 254), ctx.clientIp);
    const r = await guard.withSlot(ctx.clientIp, () =>
      ctx.services.identity.signIn(ctx.em, email.slice(0, 254), password.slice(0, 200)),
    );
    if (!('token' in r)) {
      await guard.failed(email.slice(0, 254), ctx.clientIp);
      return r;
    }
    await guard.succeeded(email.slice(0, 254), ctx.clientIp);
    const payload = AuthPayload.of(r.token, r.user);
    if (cartId && r.user.roles.includes(Role.CUSTOMER)) {
      const merged = await ctx.services.cart.mergeIntoCustomer(ctx.em, String(r.user.id), cartId);
      const principal = { userId: String(r.user.id), roles: r.user.roles, merchantId: null };
      const view = merged ? await ctx.services.cart.find(ctx.em, principal, merged) : null;
      payload.cart = view ? toCart(view, ctx.config.currency) : null;
    }
    return payload;
  }

  @Mutation(() => MerchantType, {
    description: 'ADMIN: creates a merchant and the MERCHANT user who operates it.',
  })
  merchantCreate(
    @Arg('input', () => MerchantCreateInput) input: MerchantCreateInput,
    @Ctx() ctx: Context,
  ): Promise<Merchant> {
    authorize(ctx.principal, Role.ADMIN);
    return ctx.services.identity.createMerchant(ctx.em, input);
  }

  @FieldResolver(() => MerchantType, {
    nullable: true,
    description: 'The merchant this user operates, for MERCHANT users.',
  })
  merchant(@Root() user: User, @Ctx() ctx: Context): Promise<Merchant | null> | null {
    return user.merchantId ? ctx.loaders.catalog.merchant.load(String(user.merchantId)) : null;
  }

  @FieldResolver(() => ID)
  id(@Root() user: User): string {
    return String(user.id);
  }
}
