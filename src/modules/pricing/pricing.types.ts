import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('Coupon', { description: 'A code a shopper applies to a cart.' })
export class CouponType {
  @Field(() => String) code!: string;
  @Field(() => String) description!: string;
}

@ObjectType('Promotion', { description: 'An automatic discount.' })
export class PromotionType {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => Boolean, { description: 'Switched on and within its time window now.' }) active!: boolean;
}
