import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { forbidden } from '../../shared/errors';
import { MerchantType } from '../catalog/catalog.types';
import { toCart } from '../cart/cart.types';
import type { Merchant } from '../catalog/merchant.entity';
import { MerchantCreateInput, SignUpInput } from './identity.inputs';
import {
  AuthPayload,
  PasswordChangeResult,
  SignInResult,
  SignUpConfirmResult,
  SignUpPending,
  SignUpResult,
  Viewer,
} from './identity.types';
import { Role, type User } from './user.entity';
import { isGuess } from './signup.service';
import { badInput } from '../../shared/errors';
import { ErrorCode } from '../../shared/error-result';

@Resolver(() => Viewer)
export class IdentityResolver {
  @Query(() => Viewer, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  viewer(@Ctx() ctx: Context): Promise<User | null> | null {
    return ctx.principal ? ctx.services.identity.viewer(ctx.em, ctx.principal) : null;
  }

  @Mutation(() => SignUpResult, {
    description:
      'Creates a CUSTOMER account. With SIGNUP_VERIFICATION=email (the production default) it answers SignUpPending, whatever the address, and the account is created by signUpConfirm with the mailed code; with `off` it signs in at once (AuthPayload, or EMAIL_TAKEN).',
  })
  async signUp(
    @Arg('input', () => SignUpInput) input: SignUpInput,
    @Ctx() ctx: Context,
  ): Promise<typeof SignUpResult> {
    const r = await ctx.services.protection.signin.withSlot(ctx.clientIp, () =>
      ctx.services.signups.signUp(ctx.em, input.email, input.password, input.name),
    );
    if ('pending' in r) return SignUpPending.of(r.email);
    return 'token' in r ? AuthPayload.of(r.token, r.user) : r;
  }

  @Mutation(() => SignUpConfirmResult, {
    description:
      "Creates the account of a sign-up from the code its mail carried, once, and signs it in. Passing an anonymous cart id merges it into the new customer's cart, as signIn does.",
  })
  async signUpConfirm(
    @Arg('token', () => String, { description: 'The code (or the link parameter `token`) of the mail.' })
    token: string,
    @Arg('cartId', () => ID, { nullable: true }) cartId: string | null,
    @Ctx() ctx: Context,
  ): Promise<typeof SignUpConfirmResult> {
    // A guessed code counts like a failed sign-in (per IP: a code names no account beforehand); a
    // used, replaced or expired one is a real mail's, not a guess.
    const guard = ctx.services.protection.signin;
    const key = `signup-confirm:${ctx.clientIp ?? 'unknown'}`;
    await guard.check(key, ctx.clientIp);
    const r = await ctx.services.signups.confirm(ctx.em, token.slice(0, 200));
    if (!('token' in r)) {
      if (isGuess(r)) await guard.failed(key, ctx.clientIp);
      return r;
    }
    return this.signedIn(ctx, r.user, r.token, cartId);
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
    return this.signedIn(ctx, r.user, r.token, cartId);
  }

  /** The answer of signIn and signUpConfirm: the token, and the anonymous cart merged in when given. */
  private async signedIn(
    ctx: Context,
    user: User,
    token: string,
    cartId: string | null,
  ): Promise<AuthPayload> {
    const payload = AuthPayload.of(token, user);
    if (cartId && user.roles.includes(Role.CUSTOMER)) {
      const merged = await ctx.services.cart.mergeIntoCustomer(ctx.em, String(user.id), cartId);
      const principal = { userId: String(user.id), roles: user.roles, merchantId: null };
      const view = merged ? await ctx.services.cart.find(ctx.em, principal, merged) : null;
      payload.cart = view ? toCart(view, ctx.config.currency) : null;
    }
    return payload;
  }

  @Mutation(() => Boolean, {
    description:
      'Signs the user out on every device: each token issued to the user so far stops working. True when it did.',
  })
  async signOut(@Ctx() ctx: Context): Promise<boolean> {
    const p = authorize(ctx.principal);
    if (p.partner) throw forbidden('An API key is revoked with apiKeyRevoke');
    return ctx.services.identity.signOut(ctx.em, p.userId);
  }

  @Mutation(() => PasswordChangeResult, {
    description:
      'Replaces the password (the current one is checked): every earlier token is revoked; the answer carries a new one.',
  })
  async passwordChange(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: Context,
  ): Promise<typeof PasswordChangeResult> {
    const p = authorize(ctx.principal);
    if (p.partner) throw forbidden('Partners have no password');
    if (newPassword.length > 200) throw badInput('newPassword must be at most 200 characters', 'newPassword');
    // The current password is a guess like any sign-in: counted, and locked out alike.
    const guard = ctx.services.protection.signin;
    const key = `user:${p.userId}`;
    await guard.check(key, ctx.clientIp);
    const r = await guard.withSlot(ctx.clientIp, () =>
      ctx.services.identity.changePassword(ctx.em, p.userId, currentPassword.slice(0, 200), newPassword),
    );
    if (!('token' in r)) {
      if (r.errorCode === ErrorCode.INVALID_CREDENTIALS) await guard.failed(key, ctx.clientIp);
      return r;
    }
    return AuthPayload.of(r.token, r.user);
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
