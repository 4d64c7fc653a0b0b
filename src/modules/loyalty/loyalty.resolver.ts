import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import { authorize } from '../../shared/auth';
import { UserError } from '../../shared/error-result';
import type { Context } from '../../server/context';
import { isId } from '../../shared/ids';
import { checkPageSize } from '../../shared/pagination';
import { badInput, notFound } from '../../shared/errors';
import { Viewer } from '../identity/identity.types';
import { Role, type User } from '../identity/user.entity';
import { adjustPoints, MAX_ADJUSTMENT } from './loyalty.adjust';
import { balanceOf, entriesOf } from './loyalty.store';
import { LoyaltyAdjustResult, LoyaltyEntryType, toLoyaltyEntry } from './loyalty.types';

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

const KEY = /^[\x21-\x7e]{1,100}$/;

@Resolver()
export class LoyaltyAdminResolver {
  @Mutation(() => LoyaltyAdjustResult, {
    description:
      "ADMIN: corrects a customer's points (positive gives, negative takes; what the balance cannot cover is owed). Safe to retry with the same idempotencyKey.",
  })
  async loyaltyPointsAdjust(
    @Arg('userId', () => ID) userId: string,
    @Arg('points', () => Int) points: number,
    @Arg('reason', () => String) reason: string,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
    @Ctx() ctx: Context,
  ): Promise<typeof LoyaltyAdjustResult> {
    const p = authorize(ctx.principal, Role.ADMIN);
    if (!KEY.test(idempotencyKey))
      throw badInput('idempotencyKey must be 1-100 printable ASCII characters', 'idempotencyKey');
    if (points === 0 || Math.abs(points) > MAX_ADJUSTMENT)
      throw badInput(`points must be non-zero and at most ${MAX_ADJUSTMENT} either way`, 'points');
    const why = reason.trim();
    if (why.length < 1 || why.length > 500) throw badInput('reason must be 1-500 characters', 'reason');
    if (!isId(userId)) throw notFound('User', userId.slice(0, 40));
    const r = await adjustPoints(ctx.em, p.userId, { userId, points, reason: why, idempotencyKey });
    return r instanceof UserError ? r : toLoyaltyEntry(r);
  }
}
