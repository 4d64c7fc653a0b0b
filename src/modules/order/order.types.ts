import { createUnionType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsISO31661Alpha2, IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { Money, PageInfo } from '../../shared/types';
import { Attribute } from '../catalog/catalog.types';
import { OrderStateError } from './order.errors';
import { OrderStatus } from './order.lifecycle';

export enum OrderEventKind {
  STATUS_CHANGED = 'STATUS_CHANGED',
  SHIPMENT_UPDATED = 'SHIPMENT_UPDATED',
  AFTER_SALE_UPDATED = 'AFTER_SALE_UPDATED',
}
registerEnumType(OrderEventKind, { name: 'OrderEventType', description: 'What an order event records.' });
registerEnumType(OrderStatus, { name: 'OrderStatus', description: 'Where an order is in its lifecycle.' });

@ObjectType('Address')
export class AddressType {
  @Field(() => String) name!: string;
  @Field(() => String) line1!: string;
  @Field(() => String, { nullable: true }) line2?: string | null;
  @Field(() => String) city!: string;
  @Field(() => String, { nullable: true }) region?: string | null;
  @Field(() => String) postalCode!: string;
  @Field(() => String, { description: 'ISO 3166-1 alpha-2 code.' }) country!: string;
  @Field(() => String, { nullable: true }) phone?: string | null;
}

@InputType()
export class AddressInput {
  @Field(() => String) @Length(1, 100) @Matches(/\S/, { message: 'name must not be blank' }) name!: string;
  @Field(() => String) @Length(1, 200) @Matches(/\S/, { message: 'line1 must not be blank' }) line1!: string;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(200) line2?: string | null;
  @Field(() => String) @Length(1, 100) @Matches(/\S/, { message: 'city must not be blank' }) city!: string;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(100) region?: string | null;
  @Field(() => String)
  @Length(1, 20)
  @Matches(/\S/, { message: 'postalCode must not be blank' })
  postalCode!: string;
  @Field(() => String, { description: 'ISO 3166-1 alpha-2 code, e.g. "DE".' })
  @IsISO31661Alpha2({ message: 'country must be an ISO 3166-1 alpha-2 code such as "DE"' })
  country!: string;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(40) phone?: string | null;
}

@ObjectType('ProductSnapshot', {
  description:
    'The product as it was sold, stored once per distinct content and shared by all orders that sold it.',
})
export class ProductSnapshotType {
  @Field(() => String, { description: 'SHA-256 of the canonical JSON of `data`.' }) digest!: string;
  @Field(() => String) title!: string;
  @Field(() => GraphQLJSON) data!: unknown;
}

@ObjectType('OrderLine')
export class OrderLineType {
  @Field(() => ID) id!: string;
  @Field(() => ID) variantId!: string;
  @Field(() => String) sku!: string;
  @Field(() => String) title!: string;
  @Field(() => [Attribute]) attributes!: Attribute[];
  @Field(() => Int) quantity!: number;
  @Field(() => Money) unitPrice!: Money;
  @Field(() => Money, { description: 'quantity × unitPrice less this line’s share of discounts and points.' })
  lineTotal!: Money;
  snapshotDigest!: string;
}

@ObjectType('OrderEvent', {
  description: 'A change of an order, in order; its id is also the resume cursor.',
})
export class OrderEventType {
  @Field(() => ID, {
    description: 'Also the resume cursor: pass it as `after` to receive only later events.',
  })
  id!: string;
  @Field(() => ID) orderId!: string;
  @Field(() => OrderEventKind) type!: OrderEventKind;
  @Field(() => OrderStatus, { description: 'The order status after the event.' }) status!: OrderStatus;
  @Field(() => GraphQLDateTime) occurredAt!: Date;
  /** The shipment or after-sale the event is about (resolved by their modules). */
  shipmentId!: string | null;
  afterSaleId!: string | null;
  /** SHIPMENT_UPDATED: the shipment as it was at this event (the fulfillment module reads it). */
  shipmentSnapshot?: { shipment: Record<string, any>; trackingUpTo: string | number } | null;
}

@ObjectType('OrderEventEdge')
export class OrderEventEdge {
  @Field(() => String) cursor!: string;
  @Field(() => OrderEventType) node!: OrderEventType;
}

@ObjectType('Order', { description: 'The part of a checkout sold by one merchant.' })
export class OrderType {
  @Field(() => ID, { description: '64-bit, time-ordered; carries the buyer’s shard.' }) id!: string;
  @Field(() => OrderStatus) status!: OrderStatus;
  @Field(() => Money) subtotal!: Money;
  @Field(() => Money) discount!: Money;
  @Field(() => Money) pointsDiscount!: Money;
  @Field(() => Money) shippingFee!: Money;
  @Field(() => Money) total!: Money;
  @Field(() => AddressType) shippingAddress!: AddressType;
  @Field(() => GraphQLDateTime, { nullable: true }) paymentDeadline!: Date | null;
  @Field(() => Int, { description: 'Increases on every change.' }) version!: number;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime) updatedAt!: Date;
}

@ObjectType('OrderEdge')
export class OrderEdge {
  @Field(() => String) cursor!: string;
  @Field(() => OrderType) node!: unknown;
}

@ObjectType('OrderConnection')
export class OrderConnection {
  @Field(() => [OrderEdge]) edges!: OrderEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@InputType()
export class OrderFilter {
  @Field(() => [OrderStatus], { nullable: true }) status?: OrderStatus[] | null;
  @Field(() => GraphQLDateTime, { nullable: true }) createdAfter?: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) createdBefore?: Date | null;
  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description:
      'Include archived (cold) orders: finished orders moved to the archive after ARCHIVE_AFTER_DAYS (docs/archive.md). `false` lists only hot (recent) orders, which is cheaper.',
  })
  includeArchived?: boolean | null;
}

@ObjectType('Checkout', {
  description: 'One checkout of a cart; the cart is split into one order per merchant, paid together.',
})
export class CheckoutType {
  @Field(() => ID) id!: string;
  @Field(() => Money) total!: Money;
  @Field(() => GraphQLDateTime, { nullable: true }) paymentDeadline!: Date | null;
}

export const OrderResult = createUnionType({
  name: 'OrderResult',
  types: () => [OrderType, UserError, OrderStateError] as const,
});
