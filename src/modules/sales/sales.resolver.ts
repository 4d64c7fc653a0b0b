import { Arg, Ctx, Field, ID, Int, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { Money } from '../../shared/types';
import { Role } from '../identity/user.entity';
import { OrderStatus } from '../order/order.lifecycle';

@ObjectType('StatusCount')
export class StatusCountType {
  @Field(() => OrderStatus) status!: OrderStatus;
  @Field(() => Int) count!: number;
}

@ObjectType('SalesStats', {
  description: 'Figures over orders placed in [from, to); they include orders placed seconds ago.',
})
export class SalesStatsType {
  @Field(() => GraphQLDateTime) from!: Date;
  @Field(() => GraphQLDateTime) to!: Date;
  @Field(() => Int) orders!: number;
  @Field(() => Money, { description: 'Goods and shipping of paid orders, before refunds.' })
  gross!: Money;
  @Field(() => Money, { description: 'What was refunded on those orders (by the time of the query).' })
  refunded!: Money;
  @Field(() => [StatusCountType], {
    description: 'Where those orders are now; statuses with none are left out.',
  })
  byStatus!: StatusCountType[];
}

@Resolver()
export class SalesResolver {
  @Query(() => SalesStatsType, {
    description: 'ADMIN (all shops, or one with merchantId); MERCHANT: its own shop.',
  })
  async salesStats(
    @Arg('from', () => GraphQLDateTime) from: Date,
    @Arg('to', () => GraphQLDateTime) to: Date,
    @Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null,
    @Ctx() ctx: Context,
  ): Promise<SalesStatsType> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    const s = await ctx.services.sales.stats(ctx.em, p, { from, to, merchantId: merchantId ?? null });
    const c = ctx.config.currency;
    return Object.assign(new SalesStatsType(), {
      ...s,
      gross: Money.of(s.gross, c),
      refunded: Money.of(s.refunded, c),
      byStatus: s.byStatus.map((b) => Object.assign(new StatusCountType(), b)),
    });
  }
}
