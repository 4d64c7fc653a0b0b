import { IsOptional, Length, Matches, Max, Min } from 'class-validator';
import { Field, InputType, Int, registerEnumType } from 'type-graphql';

export enum DiscountKind {
  PERCENT = 'PERCENT',
  FIXED = 'FIXED',
}
registerEnumType(DiscountKind, { name: 'DiscountKind', description: 'A percentage or a fixed amount off.' });

const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

@InputType()
export class CouponCreateInput {
  @Field(() => String, { description: 'Case-insensitive; stored upper-case.' })
  @Matches(/^[A-Za-z0-9_-]{3,40}$/, { message: 'code must be 3-40 letters, digits, "_" or "-"' })
  code!: string;

  @Field(() => String)
  @Length(1, 500)
  description!: string;

  @Field(() => DiscountKind)
  kind!: DiscountKind;

  @Field(() => String, { description: 'Percent ("10") or a fixed amount ("5.00").' })
  @Matches(AMOUNT, { message: 'value must be a non-negative amount such as "10" or "5.00"' })
  value!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Matches(AMOUNT, { message: 'minSubtotal must be a non-negative amount such as "50.00"' })
  minSubtotal?: string | null;

  @Field(() => Int, { nullable: true, description: 'How many orders may use it in all; null is unlimited.' })
  @IsOptional()
  @Min(1)
  @Max(100_000_000)
  usageLimit?: number | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 1,
    description: 'How many orders each customer may use it on.',
  })
  @IsOptional()
  @Min(1)
  @Max(1_000_000)
  perCustomerLimit?: number | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  startsAt?: Date | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  endsAt?: Date | null;
}

@InputType()
export class PromotionCreateInput {
  @Field(() => String)
  @Length(1, 200)
  name!: string;

  @Field(() => DiscountKind)
  kind!: DiscountKind;

  @Field(() => String)
  @Matches(AMOUNT, { message: 'value must be a non-negative amount such as "10" or "5.00"' })
  value!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Applies to products in this collection; null applies to the whole cart.',
  })
  @IsOptional()
  @Length(1, 60)
  collection?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Matches(AMOUNT, { message: 'minSubtotal must be a non-negative amount such as "50.00"' })
  minSubtotal?: string | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  startsAt?: Date | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  endsAt?: Date | null;
}
