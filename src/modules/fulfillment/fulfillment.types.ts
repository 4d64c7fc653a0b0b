import { createUnionType, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { ErrorCode, ErrorResult, UserError } from '../../shared/error-result';
import { OrderStateError } from '../order/order.errors';

import { ShipmentStatus } from './shipment.lifecycle';

registerEnumType(ShipmentStatus, {
  name: 'ShipmentStatus',
  description: 'Where a parcel is, as its carrier reports it.',
});

@ObjectType('TrackingEvent', { description: 'One report of the carrier.' })
export class TrackingEventType {
  @Field(() => ShipmentStatus) status!: ShipmentStatus;
  @Field(() => String, { nullable: true }) location!: string | null;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => GraphQLDateTime) occurredAt!: Date;
}

@ObjectType('Shipment', {
  description: 'A parcel: the order going out, a return coming back, or an exchange going out.',
})
export class ShipmentType {
  @Field(() => ID) id!: string;
  @Field(() => String) carrier!: string;
  @Field(() => String) trackingNumber!: string;
  @Field(() => ShipmentStatus) status!: ShipmentStatus;
  @Field(() => Int, {
    description: 'Optimistic-lock version: tracking corrections must name the version they saw.',
  })
  version!: number;
  orderId!: string;
  /** Set on a shipment as it was at an event: only tracking events up to this id existed then. */
  trackingUpTo?: string | null;
}

@ObjectType({
  implements: ErrorResult,
  description: 'The thing changed since the version you saw; nothing was changed.',
})
export class VersionConflictError extends ErrorResult {
  @Field(() => Int) currentVersion!: number;

  static of(currentVersion: number, what = 'shipment'): VersionConflictError {
    return Object.assign(new VersionConflictError(), {
      errorCode: ErrorCode.VERSION_CONFLICT,
      message: `The ${what} changed since you read it (now at version ${currentVersion})`,
      currentVersion,
    });
  }
}

export const ShipmentResult = createUnionType({
  name: 'ShipmentResult',
  types: () => [ShipmentType, UserError, VersionConflictError, OrderStateError] as const,
});
