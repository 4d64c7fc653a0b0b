import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ErrorCode, ErrorResult } from '../../shared/error-result';

@ObjectType({ implements: ErrorResult, description: 'Not enough stock for a line: nothing was taken.' })
export class OutOfStockError extends ErrorResult {
  @Field(() => ID) variantId!: string;
  @Field(() => Int) requested!: number;
  @Field(() => Int, { description: 'Units available now.' }) available!: number;

  static of(variantId: string, requested: number, available: number): OutOfStockError {
    return Object.assign(new OutOfStockError(), {
      errorCode: ErrorCode.OUT_OF_STOCK,
      message: `Only ${available} of variant ${variantId} available, ${requested} requested`,
      variantId: String(variantId),
      requested,
      available,
    });
  }
}
