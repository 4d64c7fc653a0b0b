import { Arg, Ctx, Field, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import type { Context } from '../../server/context';
import { authorize } from '../../shared/auth';
import { Role } from '../identity/user.entity';
import type { SwitchState } from './switches';

@ObjectType('Switch', { description: 'A feature operators can turn off while the service runs.' })
export class SwitchType {
  @Field(() => String) name!: string;
  @Field(() => Boolean) enabled!: boolean;
  @Field(() => String, { description: 'What the switch governs and what "off" answers.' })
  description!: string;
  @Field(() => GraphQLDateTime, { nullable: true, description: 'When an admin last set it (null: never).' })
  updatedAt!: Date | null;
}

const toType = (s: SwitchState) => Object.assign(new SwitchType(), s);

@Resolver(() => SwitchType)
export class SwitchResolver {
  @Query(() => [SwitchType], { description: 'ADMIN.' })
  async switches(@Ctx() ctx: Context): Promise<SwitchType[]> {
    authorize(ctx.principal, Role.ADMIN);
    return (await ctx.services.switches.list(ctx.em)).map(toType);
  }

  @Mutation(() => SwitchType, {
    description:
      'ADMIN. Every process follows within SWITCH_REFRESH_SECONDS; the change is logged and counted.',
  })
  async switchSet(
    @Arg('name', () => String) name: string,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Ctx() ctx: Context,
  ): Promise<SwitchType> {
    const p = authorize(ctx.principal, Role.ADMIN);
    return toType(await ctx.services.switches.set(ctx.em, p.userId, name, enabled));
  }
}
