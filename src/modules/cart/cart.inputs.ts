import { Matches, Max, Min } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';

@InputType()
export class CartLineInput {
  @Field(() => ID)
  @Matches(/^\d{1,19}$/, { message: 'variantId is not a valid id' })
  variantId!: string;

  @Field(() => Int)
  @Min(1, { message: 'quantity must be at least 1' })
  @Max(10_000)
  quantity!: number;
}

@InputType()
export class CartLineUpdateInput {
  @Field(() => ID)
  lineId!: string;

  @Field(() => Int, { description: '0 removes the line.' })
  @Min(0, { message: 'quantity must not be negative' })
  @Max(10_000)
  quantity!: number;
}
