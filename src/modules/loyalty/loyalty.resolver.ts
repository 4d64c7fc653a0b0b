import { Arg, Ctx, FieldResolver, ID, Int, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { isId } from '../../shared/ids';
import { checkPageSize } from '../../shared/pagination';
import { badInput } from '../../shared/errors';
import { Viewer } from '../identity/identity.types';
import type { User } from '../identity/user.entity';
import { balanceOf, entriesOf } from './loyalty.store';
import { LoyaltyEntryType, toLoyaltyEntry } from './loyalty.types';

@Resolver(() => Viewer)
export class LoyaltyViewerResolver {
  @FieldResolver(() => Int, {
    description:
      'Points that refunds took back after they had been spent (the balance stops at zero). Paid first from the next points earned or given back; while any are owed, `points` is 0.',
  })
  async pointsOwed(@Root() user: User, @Ctx() ctx: Context): Promise<number> {
    return (await balanceOf(ctx.em, String(user.id))).owed;
  }

  @FieldResolver(() => [LoyaltyEntryType], {
    description: 'How the points moved, newest first. `before`: an entry id, for the next page.',
  })
  async pointsHistory(
    @Root() user: User,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('before', () => ID, { nullable: true }) before: string | null,
    @Ctx() ctx: Context,
  ): Promise<LoyaltyEntryType[]> {
    const n = checkPageSize(first ?? 20, ctx.config.limits.maxPageSize);
    if (before != null && !isId(before)) throw badInput('before must be an entry id', 'before');
    return (await entriesOf(ctx.em, String(user.id), n, before ?? null)).map(toLoyaltyEntry);
  }
}
