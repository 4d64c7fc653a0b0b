import { createUnionType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ArrayMaxSize, ArrayMinSize, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { GraphQLDateTime } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { AddressType } from '../order/order.types';
import { MAX_LINES, MAX_QUANTITY } from './aftersale.request';
import { AfterSaleKind, AfterSaleStatus, isRefundType } from './aftersale.lifecycle';
import type { AfterSaleRow } from './aftersale.store';

registerEnumType(AfterSaleKind, { name: 'AfterSaleType', description: 'What the buyer asks for.' });
registerEnumType(AfterSaleStatus, {
  name: 'AfterSaleStatus',
  description: 'Where an after-sale request is in its lifecycle.',
});

@ObjectType('AfterSaleLine', { description: 'Units of an order line that an after-sale is about.' })
export class AfterSaleLineType {
  @Field(() => ID) orderLineId!: string;
  @Field(() => Int) quantity!: number;
}

@ObjectType('AfterSale', { description: 'A refund, return or exchange the buyer asked for on an order.' })
export class AfterSaleType {
  @Field(() => ID) id!: string;
  @Field(() => ID) orderId!: string;
  @Field(() => AfterSaleKind) type!: AfterSaleKind;
  @Field(() => AfterSaleStatus) status!: AfterSaleStatus;
  @Field(() => String) reason!: string;
  @Field(() => Money, {
    nullable: true,
    description:
      'Refund types: what was refunded once REFUNDED, the expected refund before. Null for exchanges and for rejected or cancelled requests.',
  })
  refundAmount!: Money | null;
  @Field(() => AddressType, {
    nullable: true,
    description: 'Where the buyer sends the parcel back (returns and exchanges, once approved).',
  })
  returnAddress!: AddressType | null;
  @Field(() => String, {
    nullable: true,
    description: "The merchant's note on the decision (always given on a rejection).",
  })
  reviewNote!: string | null;
  @Field(() => GraphQLDateTime, {
    nullable: true,
    description: 'When the merchant must decide; past it the request is approved automatically.',
  })
  reviewDeadline!: Date | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime) updatedAt!: Date;
  returnShipmentId!: string | null;
  exchangeShipmentId!: string | null;
}

export function toAfterSale(r: AfterSaleRow, currency: string): AfterSaleType {
  const released = r.status === AfterSaleStatus.REJECTED || r.status === AfterSaleStatus.CANCELLED;
  return Object.assign(new AfterSaleType(), {
    id: String(r.id),
    orderId: String(r.order_id),
    type: r.type,
    status: r.status,
    reason: r.reason,
    refundAmount:
      isRefundType(r.type) && !released && r.refund_amount !== null
        ? Money.of(Number(r.refund_amount), currency)
        : null,
    returnAddress: r.return_address ? Object.assign(new AddressType(), r.return_address) : null,
    reviewNote: r.review_note,
    reviewDeadline: r.status === AfterSaleStatus.REQUESTED ? r.review_deadline : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    returnShipmentId: r.return_shipment_id ? String(r.return_shipment_id) : null,
    exchangeShipmentId: r.exchange_shipment_id ? String(r.exchange_shipment_id) : null,
  });
}

@InputType()
export class AfterSaleLineInput {
  @Field(() => ID) orderLineId!: string;
  @Field(() => Int) @Min(1) @Max(MAX_QUANTITY) quantity!: number;
}

@InputType()
export class AfterSaleRequestInput {
  @Field(() => ID) orderId!: string;
  @Field(() => AfterSaleKind) type!: AfterSaleKind;
  @Field(() => [AfterSaleLineInput], {
    description: `The order lines and how many of their units; at most ${MAX_LINES}.`,
  })
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LINES)
  @ValidateNested({ each: true })
  lines!: AfterSaleLineInput[];
  @Field(() => String)
  @Length(1, 500)
  @Matches(/\S/, { message: 'reason must not be blank' })
  reason!: string;
  @Field(() => String, {
    description: 'Client-generated; a retry with the same key and the same input returns the first result.',
  })
  @Matches(/^[\x21-\x7e]{1,100}$/, { message: 'idempotencyKey must be 1-100 printable ASCII characters' })
  idempotencyKey!: string;
}

export const AfterSaleResult = createUnionType({
  name: 'AfterSaleResult',
  types: () => [AfterSaleType, UserError] as const,
});
