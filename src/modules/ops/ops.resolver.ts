import {
  Arg,
  createUnionType,
  Ctx,
  Field,
  ID,
  Int,
  Mutation,
  ObjectType,
  Query,
  registerEnumType,
  Resolver,
} from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { UserError, isErrorResult } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { Money } from '../../shared/types';
import { Role } from '../identity/user.entity';
import { RefundResolution, type AttentionRow } from '../payment/refund-attention';

registerEnumType(RefundResolution, {
  name: 'RefundResolution',
  description: 'How an admin settles a card refund the provider would not pay out.',
  valuesConfig: {
    TO_BALANCE: { description: "The amount goes to the buyer's balance instead of the card." },
    REFUNDED_OUTSIDE: {
      description:
        'The money reached the buyer another way (provider console, bank transfer); only recorded.',
    },
  },
});

@ObjectType('FailedJob', {
  description: 'A background job that used up its retries (it waits in its dead-letter queue).',
})
export class FailedJobType {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The queue it failed in, e.g. snapshot.write or refund.execute.' })
  queue!: string;
  @Field(() => String, { description: 'The job data, as JSON text.' }) data!: string;
  @Field(() => String, { nullable: true, description: 'What the last attempt threw.' }) error!: string | null;
  @Field(() => GraphQLDateTime) failedAt!: Date;
}

@ObjectType('JobRetried')
export class JobRetriedType {
  @Field(() => String, { description: 'The queue the job runs in again.' }) queue!: string;
}

@ObjectType('RefundAttention', {
  description: 'A card refund the provider did not pay out after every attempt, and what became of it.',
})
export class RefundAttentionType {
  @Field(() => ID) id!: string;
  @Field(() => ID, { nullable: true }) orderId!: string | null;
  @Field(() => ID) paymentId!: string;
  @Field(() => ID) buyerId!: string;
  @Field(() => Money) amount!: Money;
  @Field(() => String) reason!: string;
  @Field(() => String, { description: 'PENDING, SUCCEEDED or NEEDS_ATTENTION.' }) status!: string;
  @Field(() => Int) attempts!: number;
  @Field(() => String, { nullable: true }) lastError!: string | null;
  @Field(() => RefundResolution, { nullable: true }) resolution!: RefundResolution | null;
  @Field(() => String, { nullable: true }) resolutionNote!: string | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

export const RefundAttentionResult = createUnionType({
  name: 'RefundAttentionResult',
  types: () => [RefundAttentionType, UserError] as const,
});

const toRefund = (r: AttentionRow, currency: string) =>
  Object.assign(new RefundAttentionType(), {
    id: String(r.id),
    orderId: r.order_id === null ? null : String(r.order_id),
    paymentId: String(r.payment_id),
    buyerId: String(r.buyer_id),
    amount: Money.of(Number(r.amount), currency),
    reason: r.reason,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    resolution: r.resolution,
    resolutionNote: r.resolution_note,
    createdAt: r.created_at,
  });

/** Admin operations: failed jobs and refunds that need a person. */
@Resolver()
export class OperationsResolver {
  @Query(() => [FailedJobType], { description: 'ADMIN: jobs in the dead-letter queues, newest first.' })
  async failedJobs(
    @Arg('queue', () => String, { nullable: true }) queue: string | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null,
    @Ctx() ctx: Context,
  ): Promise<FailedJobType[]> {
    authorize(ctx.principal, Role.ADMIN);
    const jobs = await ctx.services.ops.failedJobs(queue, first ?? 50);
    return jobs.map((j) => Object.assign(new FailedJobType(), { ...j, data: JSON.stringify(j.data) }));
  }

  @Mutation(() => JobRetriedType, {
    description:
      'ADMIN: runs a failed job again in its queue (it leaves the dead-letter queue; a repeat is NOT_FOUND).',
  })
  async jobRetry(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<JobRetriedType> {
    authorize(ctx.principal, Role.ADMIN);
    const r = await ctx.services.ops.retryJob(ctx.em, id);
    if (!r) throw notFound('Failed job', id.slice(0, 40));
    return Object.assign(new JobRetriedType(), r);
  }

  @Query(() => [RefundAttentionType], {
    description: 'ADMIN: card refunds in NEEDS_ATTENTION, oldest first.',
  })
  async refundsNeedingAttention(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null,
    @Ctx() ctx: Context,
  ): Promise<RefundAttentionType[]> {
    authorize(ctx.principal, Role.ADMIN);
    const rows = await ctx.services.refundAttention.list(ctx.em, Math.min(Math.max(first ?? 50, 1), 100));
    return rows.map((r) => toRefund(r, ctx.config.currency));
  }

  @Mutation(() => RefundAttentionResult, {
    description:
      'ADMIN: pays a NEEDS_ATTENTION refund out through the provider again (fresh attempts). Safe to repeat.',
  })
  async refundRetry(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<typeof RefundAttentionResult> {
    authorize(ctx.principal, Role.ADMIN);
    const r = await ctx.services.refundAttention.retry(ctx.em, id);
    return isErrorResult(r) ? r : toRefund(r, ctx.config.currency);
  }

  @Mutation(() => RefundAttentionResult, {
    description:
      'ADMIN: settles a NEEDS_ATTENTION refund without the provider; the ledger stays balanced. Safe to repeat.',
  })
  async refundResolve(
    @Arg('id', () => ID) id: string,
    @Arg('resolution', () => RefundResolution) resolution: RefundResolution,
    @Arg('note', () => String) note: string,
    @Ctx() ctx: Context,
  ): Promise<typeof RefundAttentionResult> {
    const p = authorize(ctx.principal, Role.ADMIN);
    const r = await ctx.services.refundAttention.resolve(
      ctx.em,
      p.userId,
      id,
      resolution,
      note.slice(0, 500),
    );
    return isErrorResult(r) ? r : toRefund(r, ctx.config.currency);
  }
}
