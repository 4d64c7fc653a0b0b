import { createUnionType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, Matches, Max, Min } from 'class-validator';
import { GraphQLDateTime } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { OutOfStockError } from '../inventory/inventory.errors';
import { CheckoutType } from '../order/order.types';
import { VariantType } from '../catalog/catalog.types';

export enum FlashSaleEntryStatus {
  QUEUED = 'QUEUED',
  ORDERED = 'ORDERED',
  SOLD_OUT = 'SOLD_OUT',
  EXPIRED = 'EXPIRED',
}
registerEnumType(FlashSaleEntryStatus, {
  name: 'FlashSaleEntryStatus',
  description:
    'QUEUED: in line for units; ORDERED: an order waits for payment (or is paid); SOLD_OUT: no unit came to it; EXPIRED: its order was not paid in time and its units went to the next in line.',
});

/** A sale as stored (amounts in minor units). */
export interface FlashSaleRow {
  id: string;
  variant_id: string;
  merchant_id: string;
  price: string;
  quantity: number;
  per_customer_limit: number;
  starts_at: Date;
  ends_at: Date;
  line_capacity: number;
  line_units: number;
  line_seq: number;
  line_head: number;
  redis_cursor: string;
  /** Entries decided by PostgreSQL (without Redis) so far. */
  pg_decided: number;
  sold_out: boolean;
  closed_at: Date | null;
  created_at: Date;
}

/** An entry as a shopper sees it; `position` only while QUEUED. */
export interface EntryView {
  id: string;
  flashSaleId: string;
  customerId: string;
  quantity: number;
  status: FlashSaleEntryStatus;
  seq: number;
  position: number | null;
  checkoutId: string | null;
}

@ObjectType('FlashSale', {
  description: 'N units of a variant at a price, in a time window, with a per-customer limit.',
})
export class FlashSaleType {
  @Field(() => ID) id!: string;
  variantId!: string;
  @Field(() => Money) price!: Money;
  @Field(() => Int) quantity!: number;
  @Field(() => Int, {
    description: 'Units not yet taken by an order (may lag by a moment while the sale is busy).',
  })
  remaining!: number;
  @Field(() => Int) perCustomerLimit!: number;
  @Field(() => GraphQLDateTime) startsAt!: Date;
  @Field(() => GraphQLDateTime) endsAt!: Date;
}

@ObjectType('FlashSaleEntry', {
  description: "A customer's place in a flash sale's line, and what came of it.",
})
export class FlashSaleEntryType {
  @Field(() => ID) id!: string;
  flashSaleId!: string;
  checkoutId!: string | null;
  @Field(() => Int) quantity!: number;
  @Field(() => FlashSaleEntryStatus) status!: FlashSaleEntryStatus;
  @Field(() => Int, { nullable: true, description: 'Place in line while QUEUED.' }) position!: number | null;
}

// Declared for the schema: the field resolvers live in the resolver.
void VariantType;
void CheckoutType;

export const FlashSaleEntryResult = createUnionType({
  name: 'FlashSaleEntryResult',
  types: () => [FlashSaleEntryType, UserError, OutOfStockError] as const,
});

@InputType()
export class FlashSaleCreateInput {
  @Field(() => ID) variantId!: string;

  @Field(() => String, { description: 'The sale price, e.g. "9.99".' })
  @Matches(/^\d{1,12}(\.\d{1,2})?$/, { message: 'price must be a non-negative amount such as "9.99"' })
  price!: string;

  @Field(() => Int)
  @Min(1)
  @Max(1_000_000)
  quantity!: number;

  @Field(() => Int, { nullable: true, defaultValue: 1 })
  @IsOptional()
  @Min(1)
  @Max(1000)
  perCustomerLimit?: number | null;

  @Field(() => GraphQLDateTime) startsAt!: Date;
  @Field(() => GraphQLDateTime) endsAt!: Date;
}

export const toEntryType = (e: EntryView): FlashSaleEntryType =>
  Object.assign(new FlashSaleEntryType(), {
    id: e.id,
    flashSaleId: e.flashSaleId,
    checkoutId: e.checkoutId,
    quantity: e.quantity,
    status: e.status,
    position: e.status === FlashSaleEntryStatus.QUEUED ? e.position : null,
  });
