import { createUnionType, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/error-result';
import { GraphQLDateTime } from 'graphql-scalars';
import { LoyaltyEntryKind, type LoyaltyEntry } from './loyalty.store';

registerEnumType(LoyaltyEntryKind, {
  name: 'LoyaltyEntryKind',
  description: 'What moved loyalty points.',
  valuesConfig: {
    OPENING: { description: 'The balance held when the points ledger was introduced.' },
    EARN: { description: 'An order completed: points for what was paid and kept.' },
    SPEND: { description: 'A checkout paid part of its goods with points.' },
    RETURN: { description: 'Points spent on an order came back: it was cancelled or refunded.' },
    REVERSE: { description: 'Points earned on an order were taken back: it was refunded.' },
    ADJUST: { description: 'A correction.' },
  },
});

@ObjectType('LoyaltyEntry', { description: 'One movement of loyalty points; entries are never changed.' })
export class LoyaltyEntryType {
  @Field(() => ID) id!: string;
  @Field(() => LoyaltyEntryKind) kind!: LoyaltyEntryKind;
  @Field(() => Int, { description: 'What the cause was worth: positive credits, negative debits.' })
  amount!: number;
  @Field(() => Int, { description: 'How the balance (`Viewer.points`) moved.' })
  points!: number;
  @Field(() => Int, {
    description:
      'How `Viewer.pointsOwed` moved: a debit beyond the balance is owed, a credit pays debt first.',
  })
  owed!: number;
  @Field(() => ID, { nullable: true }) orderId!: string | null;
  @Field(() => ID, { nullable: true }) refundId!: string | null;
  @Field(() => ID, { nullable: true }) checkoutId!: string | null;
  @Field(() => String, { nullable: true, description: 'Why, for corrections made by a person.' })
  note!: string | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

export const toLoyaltyEntry = (e: LoyaltyEntry): LoyaltyEntryType =>
  Object.assign(new LoyaltyEntryType(), {
    id: e.id,
    kind: e.kind,
    amount: e.amount,
    points: e.points,
    owed: e.owed,
    orderId: e.orderId,
    refundId: e.refundId,
    checkoutId: e.checkoutId,
    note: e.note,
    createdAt: e.createdAt,
  });

export const LoyaltyAdjustResult = createUnionType({
  name: 'LoyaltyAdjustResult',
  types: () => [LoyaltyEntryType, UserError] as const,
});
