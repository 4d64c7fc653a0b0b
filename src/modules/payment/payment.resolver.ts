import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize, isAdmin } from '../../shared/auth';
import { badInput, notFound } from '../../shared/errors';
import { isErrorResult } from '../../shared/error-result';
import { isId } from '../../shared/ids';
import { toOrder } from '../order/order.resolver';
import { OrderResult } from '../order/order.types';
import { parseMoney } from '../../shared/money';
import { Money } from '../../shared/types';
import { Viewer } from '../identity/identity.types';
import { Role, type User } from '../identity/user.entity';
import { merchantAvailable, merchantEscrow, userAvailable, type AccountRef } from '../ledger/ledger';
import { CheckoutType, OrderType } from '../order/order.types';
import { PaymentMethod } from './payment.lifecycle';
import { checkReturnUrl } from './return-url';
import {
  AccountType,
  LedgerEntryConnection,
  PaymentResult,
  PaymentType,
  toOrderPayment,
  toPayment,
} from './payment.types';

const KEY = /^[\x21-\x7e]{1,100}$/;
const checkKey = (key: string) => {
  if (!KEY.test(key))
    throw badInput('idempotencyKey must be 1-100 printable ASCII characters', 'idempotencyKey');
};

@Resolver()
export class PaymentResolver {
  @Mutation(() => PaymentResult, {
    description:
      "CARD returns a redirectUrl to the payment provider, which sends the shopper back to `returnUrl` (a web page or an app link on an allowed storefront origin, STOREFRONT_ORIGINS) with `payment`, `status` and `reference` (this payment's id) in its query; BALANCE settles at once.",
  })
  async paymentStart(
    @Arg('checkoutId', () => ID) checkoutId: string,
    @Arg('method', () => PaymentMethod) method: PaymentMethod,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
    @Arg('returnUrl', () => String, { nullable: true }) returnUrl: string | null,
    @Ctx() ctx: Context,
  ): Promise<typeof PaymentResult> {
    const p = authorize(ctx.principal, Role.CUSTOMER);
    checkKey(idempotencyKey);
    const back = returnUrl == null ? null : checkReturnUrl(returnUrl, ctx.config.storefrontOrigins);
    const r = await ctx.services.payments.start(ctx.em, p.userId, checkoutId, method, idempotencyKey, back);
    return 'status' in r ? toPayment(r, ctx.config.currency) : r;
  }

  @Mutation(() => PaymentResult, {
    description: "Add funds to the signed-in user's balance by card; returns the provider payment.",
  })
  async accountTopUp(
    @Arg('amount', () => String) amount: string,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
    @Ctx() ctx: Context,
  ): Promise<typeof PaymentResult> {
    const p = authorize(ctx.principal);
    checkKey(idempotencyKey);
    const minor = parseMoney(amount, 'amount');
    if (minor <= 0) throw badInput('amount must be positive', 'amount');
    const r = await ctx.services.payments.topUp(ctx.em, p.userId, minor, idempotencyKey);
    return 'status' in r ? toPayment(r, ctx.config.currency) : r;
  }
}

@Resolver()
export class RefundResolver {
  @Mutation(() => OrderResult, {
    description: 'ADMIN: refund part or all of what an order cost, through its original payment method.',
  })
  async orderRefund(
    @Arg('orderId', () => ID) orderId: string,
    @Arg('amount', () => String) amount: string,
    @Arg('reason', () => String) reason: string,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
    @Ctx() ctx: Context,
  ): Promise<typeof OrderResult> {
    const p = authorize(ctx.principal, Role.ADMIN);
    checkKey(idempotencyKey);
    const minor = parseMoney(amount, 'amount');
    if (minor <= 0) throw badInput('amount must be positive', 'amount');
    if (!isId(orderId)) throw notFound('Order', orderId.slice(0, 40));
    const r = await ctx.services.refunds.refundOrder(
      ctx.em,
      p.userId,
      orderId,
      minor,
      reason.slice(0, 500),
      idempotencyKey,
    );
    if (isErrorResult(r)) return r;
    const order = await ctx.services.orders.find(ctx.em.fork() as typeof ctx.em, p, orderId);
    return toOrder(order!, ctx.config.currency);
  }
}

@Resolver(() => Viewer)
export class ViewerAccountResolver {
  @FieldResolver(() => AccountType, {
    description: "The user's balance on the ledger; for MERCHANT users, the shop's available balance.",
  })
  account(@Root() user: User, @Ctx() ctx: Context): Promise<AccountType> {
    const ref = user.merchantId ? merchantAvailable(String(user.merchantId)) : userAvailable(String(user.id));
    return this.accountOf(ctx, ref, `user:${user.id}`);
  }

  @FieldResolver(() => AccountType, {
    nullable: true,
    description:
      "MERCHANT users: the shop's sales held in escrow until their orders complete (net of the platform fee).",
  })
  escrow(@Root() user: User, @Ctx() ctx: Context): Promise<AccountType> | null {
    return user.merchantId
      ? this.accountOf(ctx, merchantEscrow(String(user.merchantId)), `escrow:${user.merchantId}`)
      : null;
  }

  private async accountOf(ctx: Context, ref: AccountRef, placeholder: string): Promise<AccountType> {
    const a = await ctx.services.ledger.findAccount(ctx.em, ref);
    // An account appears with its first entry; until then it is an empty one.
    return Object.assign(new AccountType(), {
      id: a ? String(a.id) : placeholder,
      balance: Money.of(a?.balance ?? 0, ctx.config.currency),
    });
  }
}

@Resolver(() => AccountType)
export class AccountResolver {
  @FieldResolver(() => LedgerEntryConnection, { description: 'Newest first.' })
  async entries(
    @Root() account: AccountType,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<LedgerEntryConnection> {
    if (!/^\d+$/.test(account.id)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
    const page = await ctx.services.ledger.entries(ctx.em, account.id, first ?? 20, after);
    const m = (n: number) => Money.of(n, ctx.config.currency);
    return {
      edges: page.edges.map((e) => ({
        cursor: e.cursor,
        node: { ...e.node, amount: m(e.node.amount), balanceAfter: m(e.node.balanceAfter) },
      })),
      pageInfo: page.pageInfo,
    };
  }
}

@Resolver(() => CheckoutType)
export class CheckoutPaymentResolver {
  @FieldResolver(() => PaymentType, { nullable: true, description: 'The latest payment attempt.' })
  async payment(@Root() c: CheckoutType, @Ctx() ctx: Context): Promise<PaymentType | null> {
    const p = await ctx.loaders.payment.latestByCheckout.load(c.id);
    return p ? toPayment(p, ctx.config.currency) : null;
  }
}

@Resolver(() => OrderType)
export class OrderPaymentResolver {
  @FieldResolver(() => PaymentType, {
    nullable: true,
    description: 'The payment that paid the order, or the latest attempt.',
  })
  async payment(
    @Root() o: OrderType & { buyerId?: string },
    @Ctx() ctx: Context,
  ): Promise<PaymentType | null> {
    const p = await ctx.loaders.payment.byOrder.load(o.id);
    if (!p) return null;
    // The buyer (and admins) see the whole payment; a merchant sees its order's share only, and
    // never the buyer's payment page (issue 12: it could decline the buyer's payment there).
    if (ctx.principal?.userId === o.buyerId || isAdmin(ctx.principal))
      return toPayment(p, ctx.config.currency);
    return toOrderPayment(p, ctx.config.currency);
  }
}
