import { Field, ObjectType } from 'type-graphql';
import { ErrorCode, ErrorResult, UserError } from '../../shared/error-result';
import { OrderStatus } from './order.lifecycle';

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

/**
 * A change asked of an archived order (a late refund, an after-sale, a cancellation): refused, never
 * brought back (docs/archive.md). Only those who may see the order get it; to others it does not exist.
 */
export const orderArchived = (orderId: string): UserError =>
  UserError.of(
    ErrorCode.ORDER_ARCHIVED,
    `Order ${orderId} is archived: it finished long ago and takes no more changes`,
  );
