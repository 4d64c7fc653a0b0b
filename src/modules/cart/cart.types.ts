import { createUnionType, Field, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { Money } from '../../shared/types';
import { VariantType } from '../catalog/catalog.types';
import { OutOfStockError } from '../inventory/inventory.errors';
import { CouponType } from '../pricing/pricing.types';
import type { CartView } from './cart.service';

@ObjectType('CartLine')
export class CartLineType {
  @Field(() => ID) id!: string;
  @Field(() => VariantType) variant!: unknown;
  @Field(() => Int) quantity!: number;
  @Field(() => Money, { description: 'The variant price now.' }) unitPrice!: Money;
  @Field(() => Money, { description: 'quantity × unitPrice less this line’s share of discounts.' })
  lineTotal!: Money;
  variantId!: string;
}

@ObjectType('Cart', { description: 'A server-side cart, priced afresh on every read. It holds no stock.' })
export class CartType {
  @Field(() => ID, {
    description: 'For an anonymous cart this id is an unguessable token: whoever holds it may use the cart.',
  })
  id!: string;
  @Field(() => [CartLineType]) lines!: CartLineType[];
  @Field(() => Int) itemCount!: number;
  @Field(() => Money) subtotal!: Money;
  @Field(() => Money, { description: 'Promotions and coupon together.' }) discount!: Money;
  @Field(() => Money) total!: Money;
  @Field(() => CouponType, { nullable: true }) coupon!: CouponType | null;
  @Field(() => GraphQLDateTime) updatedAt!: Date;
}

export const CartResult = createUnionType({
  name: 'CartResult',
  types: () => [CartType, UserError, OutOfStockError] as const,
});

export function toCart(v: CartView, currency: string): CartType {
  const m = (n: number) => Money.of(n, currency);
  return Object.assign(new CartType(), {
    id: v.id,
    lines: v.lines.map((l) =>
      Object.assign(new CartLineType(), {
        id: l.id,
        variantId: l.variantId,
        quantity: l.quantity,
        unitPrice: m(l.unitPrice),
        lineTotal: m(l.lineTotal),
      }),
    ),
    itemCount: v.itemCount,
    subtotal: m(v.subtotal),
    discount: m(v.discount),
    total: m(v.total),
    coupon: v.coupon ? Object.assign(new CouponType(), v.coupon) : null,
    updatedAt: v.updatedAt,
  });
}
