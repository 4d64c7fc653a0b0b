import { Field, ObjectType } from 'type-graphql';
import { ErrorCode, ErrorResult } from '../../shared/error-result';
import { OrderStatus } from './order.state';

@ObjectType({
  implements: ErrorResult,
  description: 'The order cannot make this move from its current status.',
})
export class OrderStateError extends ErrorResult {
  @Field(() => OrderStatus) from!: OrderStatus;
  @Field(() => OrderStatus) to!: OrderStatus;

  static of(from: OrderStatus, to: OrderStatus): OrderStateError {
    return Object.assign(new OrderStateError(), {
      errorCode: ErrorCode.ORDER_STATE_INVALID,
      message: `An order cannot go from ${from} to ${to}`,
      from,
      to,
    });
  }
}
