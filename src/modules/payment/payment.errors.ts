import { Field, ObjectType } from 'type-graphql';
import { ErrorCode, ErrorResult } from '../../shared/error-result';
import { Money } from '../../shared/types';

@ObjectType({
  implements: ErrorResult,
  description: 'The balance does not cover the amount: nothing was charged.',
})
export class InsufficientFundsError extends ErrorResult {
  @Field(() => Money, { description: 'The balance now.' }) balance!: Money;

  static of(balance: number, currency: string): InsufficientFundsError {
    return Object.assign(new InsufficientFundsError(), {
      errorCode: ErrorCode.INSUFFICIENT_FUNDS,
      message: 'The balance does not cover this payment',
      balance: Money.of(balance, currency),
    });
  }
}
