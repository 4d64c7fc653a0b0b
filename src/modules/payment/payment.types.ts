import { createUnionType, Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { Money, PageInfo } from '../../shared/types';
import { LedgerEntryKind } from '../ledger/ledger';
import { InsufficientFundsError } from './payment.errors';
import type { PaymentRow } from './payment.store';
import type { OrderPaymentRow } from './payment.loaders';
import { PaymentMethod, PaymentStatus } from './payment.lifecycle';

registerEnumType(PaymentStatus, { name: 'PaymentStatus', description: 'Where a payment is.' });
registerEnumType(PaymentMethod, {
  name: 'PaymentMethod',
  description: 'CARD goes through the provider; BALANCE settles at once from the account.',
});
registerEnumType(LedgerEntryKind, {
  name: 'LedgerEntryKind',
  description: 'What moved money in or out of an account.',
});

@ObjectType('Payment')
export class PaymentType {
  @Field(() => ID) id!: string;
  @Field(() => PaymentMethod) method!: PaymentMethod;
  @Field(() => PaymentStatus) status!: PaymentStatus;
  @Field(() => Money) amount!: Money;
  @Field(() => Money) refunded!: Money;
  @Field(() => String, {
    nullable: true,
    description: 'For CARD: where the shopper completes payment with the provider.',
  })
  redirectUrl!: string | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

export const PaymentResult = createUnionType({
  name: 'PaymentResult',
  types: () => [PaymentType, UserError, InsufficientFundsError] as const,
});

export function toPayment(p: PaymentRow, currency: string): PaymentType {
  return Object.assign(new PaymentType(), {
    id: String(p.id),
    method: p.method,
    status: p.status,
    amount: Money.of(Number(p.amount), currency),
    refunded: Money.of(Number(p.refunded), currency),
    redirectUrl: p.status === PaymentStatus.PENDING ? p.redirect_url : null,
    createdAt: p.created_at,
  });
}

/**
 * One order's view of a payment that may cover several merchants' orders: the order's share of the
 * amount and of the refunds, and no payment page (issue 12).
 */
export function toOrderPayment(p: OrderPaymentRow, currency: string): PaymentType {
  return Object.assign(toPayment(p, currency), {
    amount: Money.of(Number(p.order_amount), currency),
    refunded: Money.of(Math.min(Number(p.order_refunded), Number(p.order_amount)), currency),
    redirectUrl: null,
  });
}

@ObjectType('LedgerEntry')
export class LedgerEntryType {
  @Field(() => ID) id!: string;
  @Field(() => Money, { description: 'Signed: negative leaves the account.' }) amount!: Money;
  @Field(() => Money) balanceAfter!: Money;
  @Field(() => LedgerEntryKind) kind!: LedgerEntryKind;
  @Field(() => String, { description: 'The order, checkout, refund or top-up that caused it.' })
  reference!: string;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

@ObjectType('LedgerEntryEdge')
export class LedgerEntryEdge {
  @Field(() => String) cursor!: string;
  @Field(() => LedgerEntryType) node!: LedgerEntryType;
}

@ObjectType('LedgerEntryConnection')
export class LedgerEntryConnection {
  @Field(() => [LedgerEntryEdge]) edges!: LedgerEntryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType('Account', { description: 'A balance on the double-entry ledger.' })
export class AccountType {
  @Field(() => ID) id!: string;
  @Field(() => Money) balance!: Money;
}
