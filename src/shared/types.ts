import { Field, ObjectType } from 'type-graphql';
import { formatMinor } from './money';

/** GraphQL object types shared by every module. */

@ObjectType({
  description: 'An amount of money. Never a float: `amount` is a decimal string such as "19.99".',
})
export class Money {
  @Field(() => String, { description: 'Decimal string in major units, e.g. "19.99".' })
  amount!: string;

  @Field(() => String, { description: 'ISO 4217 currency code.' })
  currency!: string;

  static of(minor: number, currency: string): Money {
    return Object.assign(new Money(), { amount: formatMinor(minor), currency });
  }
}

@ObjectType({ description: 'Relay-style page information.' })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to get the next page.' })
  endCursor?: string | null;
}
